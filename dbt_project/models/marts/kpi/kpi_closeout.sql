{#- Study close-out (docs/kpi-definitions.md, "Study operations marts"), one definition
    for every perspective: LPI -> DB_LOCK, TMF_RECON, FIN_RECON. The sponsor's LPI is its
    LPI milestone; the CRO's is the last SUBJ_RANDOMIZED on or before the study's first
    close-out event, so a study still enrolling has no CRO LPI. `closeout_state`:
    NOT_STARTED without LPI, CLOSED once DB lock, TMF and finance are all reconciled,
    else IN_PROGRESS. One row per perspective and study. -#}
with milestones as (
    select * from {{ ref('fct_milestone_events') }}
    where milestone_code in ('LPI', 'DB_LOCK', 'TMF_RECON', 'FIN_RECON')
),

studies as (
    select study_id from {{ ref('dim_study') }}
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

per_study as (
    select
        perspective,
        study_id,
        min(case when milestone_code = 'LPI' then milestone_date end) as lpi_date,
        min(case when milestone_code = 'DB_LOCK' then milestone_date end) as db_lock_date,
        min(case when milestone_code = 'TMF_RECON' then milestone_date end) as tmf_recon_date,
        min(case when milestone_code = 'FIN_RECON' then milestone_date end) as fin_recon_date,
        min(case when milestone_code in ('DB_LOCK', 'TMF_RECON', 'FIN_RECON') then milestone_date end)
            as first_closeout_date
    from milestones
    group by perspective, study_id
),

cro_lpi as (
    select
        subjects.study_id,
        max(subjects.randomized_date) as lpi_date
    from {{ ref('dim_subject') }} as subjects
    inner join per_study
        on per_study.perspective = 'cro'
        and subjects.study_id = per_study.study_id
    where subjects.randomized_date <= per_study.first_closeout_date
    group by subjects.study_id
),

dated as (
    select
        perspectives.perspective,
        studies.study_id,
        case when perspectives.perspective = 'cro' then cro_lpi.lpi_date else per_study.lpi_date end as lpi_date,
        per_study.db_lock_date,
        per_study.tmf_recon_date,
        per_study.fin_recon_date
    from studies
    cross join perspectives
    left join per_study
        on perspectives.perspective = per_study.perspective
        and studies.study_id = per_study.study_id
    left join cro_lpi
        on perspectives.perspective = 'cro'
        and studies.study_id = cro_lpi.study_id
),

final as (
    select
        -- grain
        perspective,
        study_id,
        -- milestones
        lpi_date,
        db_lock_date,
        tmf_recon_date,
        fin_recon_date,
        -- cycle times (calendar days; null while open)
        cast({{ days_between('lpi_date', 'db_lock_date') }} as integer) as days_lpi_to_db_lock,
        cast({{ days_between('db_lock_date', 'fin_recon_date') }} as integer) as days_db_lock_to_fin_recon,
        -- state
        case
            when lpi_date is null then 'NOT_STARTED'
            when db_lock_date is not null and tmf_recon_date is not null and fin_recon_date is not null then 'CLOSED'
            else 'IN_PROGRESS'
        end as closeout_state
    from dated
)

select * from final
