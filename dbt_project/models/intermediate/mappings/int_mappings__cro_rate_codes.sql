{{ resolve_cro_wildcards(ref('map_cro_rate_codes'), ['rate_code'], ['cost_bucket_code']) }}
