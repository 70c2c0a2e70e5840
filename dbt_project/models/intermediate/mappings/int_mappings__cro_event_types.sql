{{ resolve_cro_wildcards(ref('map_cro_event_types'), ['cro_event_type'], ['event_type_code', 'milestone_code']) }}
