{#- The latest state of each subject visit (by UpdatedAt), incremental by subject visit. -#}
{{ latest_conformed_version('int_cro__visits__checked', ['cro_id', 'cro_study_ref', 'site_code', 'subject_id', 'cro_visit_code'], 'updated_at') }}
