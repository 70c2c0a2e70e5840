{{ resolve_cro_wildcards(ref('map_cro_finance_states'), ['cro_finance_state'], ['finance_state_code']) }}
