{#- CRO visit codes to protocol visit codes, resolved per CRO and per study: a
    `cro_study_ref = '*'` row applies to every study of the CRO that has no row of its
    own for that code. -#}
with resolved as (
    {{ resolve_cro_wildcards(ref('map_cro_visit_codes'), ['cro_study_ref', 'cro_visit_code'], ['visit_code']) }}
),

studies as (
    select distinct cro_id, cro_study_ref from {{ ref('stg_cro__studies') }}
),

own_rows as (
    select * from resolved where cro_study_ref <> '*'
),

inherited_rows as (
    select
        resolved.cro_id,
        studies.cro_study_ref,
        resolved.cro_visit_code,
        resolved.visit_code,
        resolved.valid_from,
        resolved.valid_to,
        resolved.change_ref
    from resolved
    inner join studies
        on resolved.cro_id = studies.cro_id
    where resolved.cro_study_ref = '*'
        and not exists (
            select 1 from own_rows
            where own_rows.cro_id = resolved.cro_id
                and own_rows.cro_study_ref = studies.cro_study_ref
                and own_rows.cro_visit_code = resolved.cro_visit_code
        )
)

select cro_id, cro_study_ref, cro_visit_code, visit_code, valid_from, valid_to, change_ref from own_rows
union all
select * from inherited_rows
