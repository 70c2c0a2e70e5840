{#- CRO visit codes to protocol visit codes; `cro_study_ref = '*'` rows apply to every
    study of the CRO that has no row of its own (resolved where used). -#}
{{ resolve_cro_wildcards(ref('map_cro_visit_codes'), ['cro_study_ref', 'cro_visit_code'], ['visit_code']) }}
