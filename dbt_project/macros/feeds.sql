{#- The feeds of the contract (orchestration/feed_contract.yaml) as (side, feed) pairs;
    tests/test_definitions.py keeps this list equal to the contract. -#}
{% macro contract_feeds() -%}
    {{ return([
        ('sponsor', 'studies'), ('sponsor', 'country_plan'), ('sponsor', 'enrollment_plan'),
        ('sponsor', 'visit_schedule'), ('sponsor', 'milestones'), ('sponsor', 'forecast'),
        ('sponsor', 'invoices'), ('cro', 'studies'), ('cro', 'sites'), ('cro', 'events'),
        ('cro', 'visits'), ('cro', 'rate_card'), ('cro', 'accruals'), ('cro', 'site_payments'),
    ]) }}
{%- endmacro %}
