{#- Country name variants per CRO (wildcards resolved), matched case- and
    space-insensitively. -#}
with resolved as (
    {{ resolve_cro_wildcards(ref('map_country_names'), ['country_name_variant'], ['country_code']) }}
)

select
    cro_id,
    {{ normalize_name('country_name_variant') }} as country_name_key,
    country_name_variant,
    country_code,
    valid_from,
    valid_to,
    change_ref
from resolved
