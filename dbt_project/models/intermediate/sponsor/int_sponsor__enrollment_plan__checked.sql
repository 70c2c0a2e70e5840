{{ check_sponsor_study_country('stg_sponsor__enrollment_plan') }}
