{#- The latest accrual per study, month and rate code (by UpdatedAt), incremental by that key. -#}
{{ latest_conformed_version('int_cro__accruals__checked', ['cro_id', 'cro_study_ref', 'accrual_month', 'rate_code'], 'updated_at') }}
