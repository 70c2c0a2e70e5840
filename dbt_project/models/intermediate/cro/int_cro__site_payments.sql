{#- The latest state of each site payment (by UpdatedAt), incremental by payment. -#}
{{ latest_conformed_version('int_cro__site_payments__checked', ['cro_id', 'payment_id'], 'updated_at') }}
