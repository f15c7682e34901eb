{{ config(order_by=['workspace_id', 'policy_version', 'step_index']) }}

with

source as (

    select * from {{ source('dunning', 'dunning_policies') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'policy_version', 'step_index'], version_columns=['_revops_synced_at']) }}

),

final as (

    select
        workspace_id,
        policy_version,
        step_index,
        step_name,
        action,
        template,
        offset_days,
        splitByChar(',', decline_categories) as decline_categories,
        toDateTime64(effective_from, 3, 'UTC') as effective_from,
        holdout_basis_points,
        holdout_salt,
        retry_window_days,
        is_live

    from deduplicated

)

select * from final
