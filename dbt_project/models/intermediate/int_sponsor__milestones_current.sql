{{ current_snapshot(ref('stg_sponsor__milestones')) }}
