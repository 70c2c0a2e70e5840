{{ current_snapshot(ref('stg_sponsor__country_plan')) }}
