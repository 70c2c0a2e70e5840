select * from {{ ref('dict_cost_buckets') }}
