{{ config(order_by=['workspace_id', 'meter_slug']) }}

with

source as (

    select * from {{ source('usage', 'meters') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'slug']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        slug as meter_slug,

        ---------- strings
        description as meter_description,
        ifNull(event_type, '') as event_type,
        ifNull(aggregation, '') as aggregation,
        value_property,
        window_size,
        -- `$.a.b` as keys ['a', 'b'], for extracting values whose path is data, not SQL.
        if(value_property is null, [], splitByChar('.', substring(value_property, 3))) as value_keys,
        arrayMap(
            dimension -> (dimension.1, splitByChar('.', substring(dimension.2, 3))),
            arraySort(JSONExtractKeysAndValues(ifNull(group_by, '{}'), 'String'))
        ) as group_by,

        ---------- numerics
        config_version,

        ---------- timestamps
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
