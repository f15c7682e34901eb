{{ config(order_by=['workspace_id', 'tax_rate_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'tax_rates')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as tax_rate_id,

        ---------- strings
        display_name,
        description,
        tax_type,
        country,
        state,
        jurisdiction,
        jurisdiction_level,
        rate_type,
        metadata,

        ---------- numerics
        percentage,
        effective_percentage,

        ---------- booleans
        inclusive as is_inclusive,
        active as is_active,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
