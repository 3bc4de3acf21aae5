"""payment reference for every method; payment methods are data, not a constraint

Revision ID: c4e7a91d2b68
Revises: 59aca4757006
Create Date: 2026-12-04 19:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e7a91d2b68'
down_revision = '59aca4757006'
branch_labels = None
depends_on = None


def upgrade():
    # The list of methods lives in portal/payments.py: a new method is one entry there, and a
    # CHECK naming the codes would make it a migration too. The cheque number becomes the
    # reference of any method that asks for one (a voucher's paying body, a cheque's number).
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payment_method_known'), type_='check')
        batch_op.alter_column('cheque_number', new_column_name='reference',
                              existing_type=sa.String(length=20), type_=sa.String(length=40),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.alter_column('reference', new_column_name='cheque_number',
                              existing_type=sa.String(length=40), type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.create_check_constraint(op.f('ck_payment_method_known'),
                                         "method IN ('cash', 'card', 'cheque', 'free')")
