{#- Every milestone achievement known to either side, in canonical codes, one row per
    record: the single input from which each start-up KPI is computed identically for the
    sponsor's and the CRO's perspective. Only what happened by the as-of date counts. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

sponsor_milestones as (
    select
        'sponsor' as perspective,
        milestones.study_id,
        milestones.country_code,
        milestones.site_number,
        cast(null as {{ dbt.type_string() }}) as subject_id,
        milestones.milestone_code,
        milestones.actual_date as milestone_date,
        milestones._delivery_id,
        milestones._row_number
    from {{ ref('int_sponsor__milestones') }} as milestones
    where milestones.actual_date is not null
),

{#- Protocol final comes from the sponsor for both views (the CRO does not record it);
    the sponsor's PROT_FINAL milestone, where present, is its own record of it. -#}
protocol_final as (
    select
        perspectives.perspective,
        studies.study_id,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as site_number,
        cast(null as {{ dbt.type_string() }}) as subject_id,
        'PROTOCOL_FINAL' as milestone_code,
        studies.protocol_final_date as milestone_date,
        studies._delivery_id,
        studies._row_number
    from {{ ref('int_sponsor__studies') }} as studies
    cross join (select 'sponsor' as perspective union all select 'cro' as perspective) as perspectives
    where studies.protocol_final_date is not null
        and not (
            perspectives.perspective = 'sponsor'
            and exists (
                select 1 from sponsor_milestones
                where sponsor_milestones.study_id = studies.study_id
                    and sponsor_milestones.milestone_code = 'PROTOCOL_FINAL'
            )
        )
),

{#- The CRO's first SUBJ_SCREENED is FPI; LPI (last randomized) is not a start-up
    milestone and is derived where close-out KPIs need it. -#}
cro_milestones as (
    select
        'cro' as perspective,
        study_id,
        country_code,
        site_number,
        subject_id,
        milestone_code,
        occurred_date as milestone_date,
        _delivery_id,
        _row_number
    from {{ ref('int_cro__events_effective') }}
    where milestone_code is not null
        and milestone_code <> 'LPI'
),

unioned as (
    select * from sponsor_milestones
    union all
    select * from protocol_final
    union all
    select * from cro_milestones
),

final as (
    select unioned.*
    from unioned
    cross join as_of
    where unioned.milestone_date <= as_of.as_of_date
        and unioned.study_id is not null
)

select * from final
