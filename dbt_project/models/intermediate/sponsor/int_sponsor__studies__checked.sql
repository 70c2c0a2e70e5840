{#- Every row of every sponsor studies delivery, with the reason it cannot be conformed. -#}
with staged as (
    select * from {{ ref('stg_sponsor__studies') }}
),

checked as (
    select
        staged.*,
        {{ quarantine_columns([
            ('study_id is null', 'missing_study_id', 'study_id'),
            ('protocol_version is null', 'missing_protocol_version', 'study_id'),
        ]) }}
    from staged
)

select * from checked
