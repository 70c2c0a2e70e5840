{#- The CRO's study crosswalk: its study reference to the sponsor's study id. -#}
{{ current_snapshot(ref('stg_cro__studies')) }}
