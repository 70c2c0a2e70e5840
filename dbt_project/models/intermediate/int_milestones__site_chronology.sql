{#- Each site's start-up date next to its country's, per perspective: the input of the
    chronology gate (expectations/conformed__int_milestones__site_chronology.json), which
    reports sites initiated before their country was ready. -#}
with milestones as (
    select * from {{ ref('int_milestones__by_perspective') }}
),

country_ready as (
    select perspective, study_id, country_code, min(milestone_date) as country_ready_date
    from milestones
    where milestone_code = 'COUNTRY_READY' and site_number is null
    group by perspective, study_id, country_code
),

site_ready as (
    select perspective, study_id, country_code, site_number, min(milestone_date) as site_ready_date
    from milestones
    where milestone_code = 'SITE_READY'
    group by perspective, study_id, country_code, site_number
)

select
    site_ready.perspective,
    site_ready.study_id,
    site_ready.country_code,
    site_ready.site_number,
    country_ready.country_ready_date,
    site_ready.site_ready_date
from site_ready
left join country_ready
    on site_ready.perspective = country_ready.perspective
    and site_ready.study_id = country_ready.study_id
    and site_ready.country_code = country_ready.country_code
