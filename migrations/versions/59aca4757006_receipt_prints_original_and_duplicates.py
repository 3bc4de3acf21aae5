"""receipt prints: the original, then numbered duplicates

Revision ID: 59aca4757006
Revises: 9d4b6e2f1c07
Create Date: 2026-12-04 19:05:27

Each print of a receipt becomes a row (number 0 is the original, n ≥ 1 is "DUPLICATA n"),
recorded by an explicit action instead of counted on every download. The prints already counted
in sale.print_count become rows 0 … count - 1, without a date nor an author (neither was kept),
so that no receipt already printed can come out as an original again. The column is then dropped
with SQLite's own ALTER TABLE … DROP COLUMN (3.35+): a batch copy of the sale table would have to
drop a table that sale lines, payments and voids reference.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '59aca4757006'
down_revision = '9d4b6e2f1c07'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('receipt_print',
    sa.Column('sale_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('printed_at', sa.DateTime(), nullable=True),
    sa.Column('printed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('number >= 0', name=op.f('ck_receipt_print_number_not_negative')),
    sa.ForeignKeyConstraint(['printed_by_id'], ['app_user.id'], name=op.f('fk_receipt_print_printed_by_id_app_user')),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_receipt_print_sale_id_sale')),
    sa.PrimaryKeyConstraint('sale_id', 'number', name=op.f('pk_receipt_print'))
    )
    # Rows 0 … print_count - 1 of every sale printed so far: the numbers up to the largest count,
    # joined to the sales counted at least that many times.
    op.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
               "WHERE i + 1 < (SELECT max(print_count) FROM sale)) "
               "INSERT INTO receipt_print (sale_id, number) "
               "SELECT sale.id, n.i FROM sale JOIN n ON n.i < sale.print_count")
    op.drop_column('sale', 'print_count')


def downgrade():
    op.add_column('sale', sa.Column('print_count', sa.Integer(), nullable=False, server_default='0'))
    op.execute("UPDATE sale SET print_count = (SELECT count(*) FROM receipt_print "
               "WHERE receipt_print.sale_id = sale.id)")
    op.drop_table('receipt_print')
