"""report figures per year, people served per month and year, closings counted; attendance index

Revision ID: 5c2e8d7a91f3
Revises: 48fa0d134a26
Create Date: 2026-11-27 23:55:00

The new tables are filled from the existing ones, and the closings already made are counted, so an
upgraded database reports the same figures without `flask rebuild-reports`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c2e8d7a91f3'
down_revision = '48fa0d134a26'
branch_labels = None
depends_on = None


def _first_day(column: str, unit: str) -> str:
    """SQL for the first day of the month or year holding a date column."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(date_trunc('{unit}', {column}) AS DATE)"
    return f"date({column}, 'start of {unit}')"


def upgrade():
    op.create_table('yearly_activity',
    sa.Column('relay_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Date(), nullable=False),
    sa.Column('figure', sa.String(length=12), nullable=False),
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['relay_id'], ['relay.id'], name=op.f('fk_yearly_activity_relay_id_relay')),
    sa.PrimaryKeyConstraint('relay_id', 'year', 'figure', 'key', name=op.f('pk_yearly_activity'))
    )
    for table, column in (('served_month', 'month'), ('served_year', 'year')):
        op.create_table(table,
        sa.Column('relay_id', sa.Integer(), nullable=False),
        sa.Column(column, sa.Date(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f(f'fk_{table}_beneficiary_id_beneficiary')),
        sa.ForeignKeyConstraint(['relay_id'], ['relay.id'], name=op.f(f'fk_{table}_relay_id_relay')),
        sa.PrimaryKeyConstraint('relay_id', column, 'beneficiary_id', name=op.f(f'pk_{table}'))
        )
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_session_status', ['session_id', 'status', 'beneficiary_id'], unique=False)

    # What the transactions would have written (reports.operations).
    op.execute(f"INSERT INTO yearly_activity (relay_id, year, figure, key, count, amount_cents) "
               f"SELECT relay_id, {_first_day('month', 'year')}, figure, key, SUM(count), SUM(amount_cents) "
               f"FROM monthly_activity GROUP BY relay_id, {_first_day('month', 'year')}, figure, key")
    op.execute(f"INSERT INTO served_month (relay_id, month, beneficiary_id) "
               f"SELECT DISTINCT relay_id, {_first_day('day', 'month')}, beneficiary_id FROM served_person")
    op.execute(f"INSERT INTO served_year (relay_id, year, beneficiary_id) "
               f"SELECT DISTINCT relay_id, {_first_day('month', 'year')}, beneficiary_id FROM served_month")
    gap = ("ABS(counted_cash_cents - expected_cash_cents) + ABS(counted_card_cents - expected_card_cents) "
           "+ ABS(counted_cheque_cents - expected_cheque_cents)")
    for table, column, unit in (('daily_activity', 'day', None), ('monthly_activity', 'month', 'month'),
                                ('yearly_activity', 'year', 'year')):
        first = _first_day('day', unit) if unit else 'day'
        op.execute(f"INSERT INTO {table} (relay_id, {column}, figure, key, count, amount_cents) "
                   f"SELECT relay_id, {first}, 'closing', '', COUNT(*), 0 FROM cash_closing "
                   f"GROUP BY relay_id, {first}")
        op.execute(f"INSERT INTO {table} (relay_id, {column}, figure, key, count, amount_cents) "
                   f"SELECT relay_id, {first}, 'closing_gap', '', COUNT(*), SUM({gap}) FROM cash_closing "
                   f"WHERE {gap} > 0 GROUP BY relay_id, {first}")


def downgrade():
    op.execute("DELETE FROM daily_activity WHERE figure IN ('closing', 'closing_gap')")
    op.execute("DELETE FROM monthly_activity WHERE figure IN ('closing', 'closing_gap')")
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_session_status')
    op.drop_table('served_year')
    op.drop_table('served_month')
    op.drop_table('yearly_activity')
