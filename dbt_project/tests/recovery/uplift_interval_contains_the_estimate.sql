-- The uplift's confidence interval lies within [-1, 1] and contains the estimate itself.
select *
from {{ ref('agg_recovery_uplift') }}
where uplift is not null
    and not (uplift_ci_low >= -1 and uplift_ci_low <= uplift and uplift <= uplift_ci_high and uplift_ci_high <= 1)
