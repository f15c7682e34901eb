-- Every credit is accounted for: applied to invoices, refunded, or still open (in minor units).
-- Rows returned are credits whose parts do not add up to their total.

select workspace_id, source_system, credit_note_id, total, amount_applied, amount_refunded, remaining_credit
from {{ ref('int_accounting__credit_notes') }}
where amount_applied + amount_refunded + remaining_credit != total
