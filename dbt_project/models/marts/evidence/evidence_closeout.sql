{#- Every record behind kpi_closeout, per perspective and study: the close-out milestone
    records of each side (the earliest DB_LOCK, TMF_RECON and FIN_RECON set their dates;
    the sponsor's earliest LPI its LPI), and, for the CRO, every subject's randomization:
    the CRO's LPI is the last one on or before the study's first close-out event, so a
    randomization after it, or in a study with no close-out event yet, is listed and left
    out with why. The mart's values are these rows aggregated (meta `evidence` in
    _evidence_operations.yml). -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

milestones as (
    select
        milestones.*,
        min(milestones.milestone_date) over (
            partition by milestones.perspective, milestones.study_id, milestones.milestone_code
        ) as first_date
    from {{ ref('fct_milestone_events') }} as milestones
    where milestones.milestone_code in ('LPI', 'DB_LOCK', 'TMF_RECON', 'FIN_RECON')
),

first_closeout as (
    select perspective, study_id, min(milestone_date) as first_closeout_date
    from milestones
    where milestone_code in ('DB_LOCK', 'TMF_RECON', 'FIN_RECON')
    group by perspective, study_id
),

milestone_records as (
    select
        perspective,
        study_id,
        'milestone' as record_kind,
        country_code,
        site_number,
        subject_id,
        milestone_code,
        milestone_date,
        case when milestone_date = first_date then lower(milestone_code) || '_date' end as sets,
        case when milestone_date <> first_date then
            'not_first: the first ' || milestone_code || ' of the study is on ' || cast(first_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        _delivery_id,
        _row_number
    from milestones
),

{#- The CRO's LPI is the latest of the counted randomizations: every one that sets it
    is the latest counted of its study. -#}
randomizations as (
    select
        'cro' as perspective,
        subjects.study_id,
        subjects.country_code,
        subjects.site_number,
        subjects.subject_id,
        subjects.randomized_date,
        first_closeout.first_closeout_date,
        subjects.randomized_date <= first_closeout.first_closeout_date as is_before_closeout,
        subjects._randomized_delivery_id,
        subjects._randomized_row_number
    from {{ ref('dim_subject') }} as subjects
    left join first_closeout
        on first_closeout.perspective = 'cro'
        and subjects.study_id = first_closeout.study_id
    where subjects.randomized_date is not null
),

randomization_records as (
    select
        randomizations.perspective,
        randomizations.study_id,
        'randomization' as record_kind,
        randomizations.country_code,
        randomizations.site_number,
        randomizations.subject_id,
        'SUBJ_RANDOMIZED' as milestone_code,
        randomizations.randomized_date as milestone_date,
        case when randomizations.randomized_date = last_counted.lpi_date then 'lpi_date' end as sets,
        case
            when randomizations.first_closeout_date is null
                then 'no_closeout_yet: the CRO LPI is the last randomization on or before the first close-out event of the study, and it has none'
            when not randomizations.is_before_closeout
                then 'after_first_closeout: randomized after the first close-out event of the study, on ' || cast(randomizations.first_closeout_date as {{ dbt.type_string() }})
            when randomizations.randomized_date < last_counted.lpi_date
                then 'not_last: the last randomization on or before the first close-out event is on ' || cast(last_counted.lpi_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        randomizations._randomized_delivery_id as _delivery_id,
        randomizations._randomized_row_number as _row_number
    from randomizations
    left join (
        select study_id, max(randomized_date) as lpi_date
        from randomizations
        where is_before_closeout
        group by study_id
    ) as last_counted
        on randomizations.study_id = last_counted.study_id
),

records as (
    select * from milestone_records
    union all
    select * from randomization_records
),

final as (
    select
        -- grain of the KPI row it belongs to
        records.perspective,
        records.study_id,
        -- the record
        records.record_kind,
        records.country_code,
        records.site_number,
        records.subject_id,
        records.milestone_code,
        records.milestone_date,
        -- how the KPI counts it
        records.sets,
        records.sets is not null as is_counted,
        records.exclusion_reason,
        {{ evidence_lineage('records') }}
    from records
    left join ledger
        on records._delivery_id = ledger.delivery_id
)

select * from final
