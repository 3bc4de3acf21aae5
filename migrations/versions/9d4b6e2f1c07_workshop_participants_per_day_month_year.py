"""workshop participants per relay and day, month and year

Revision ID: 9d4b6e2f1c07
Revises: 5c2e8d7a91f3
Create Date: 2026-11-28 02:30:00

Distinct participants over any period from these tables instead of the attendance marks (as the
people served). They are filled from the present marks already recorded, so an upgraded database
reports the same figures without `flask rebuild-reports`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d4b6e2f1c07'
down_revision = '5c2e8d7a91f3'
branch_labels = None
depends_on = None

TABLES = (('participant', 'day', None), ('participant_month', 'month', 'month'), ('participant_year', 'year', 'year'))


def _first_day(column: str, unit: str) -> str:
    """SQL for the first day of the month or year holding a date column."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(date_trunc('{unit}', {column}) AS DATE)"
    return f"date({column}, 'start of {unit}')"


def upgrade():
    for table, column, _ in TABLES:
        op.create_table(table,
        sa.Column('relay_id', sa.Integer(), nullable=False),
        sa.Column(column, sa.Date(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f(f'fk_{table}_beneficiary_id_beneficiary')),
        sa.ForeignKeyConstraint(['relay_id'], ['relay.id'], name=op.f(f'fk_{table}_relay_id_relay')),
        sa.PrimaryKeyConstraint('relay_id', column, 'beneficiary_id', name=op.f(f'pk_{table}'))
        )

    # What reports.operations.count_attendance would have written.
    for table, column, unit in TABLES:
        first = _first_day('workshop_session.day', unit) if unit else 'workshop_session.day'
        op.execute(f"INSERT INTO {table} (relay_id, {column}, beneficiary_id) "
                   f"SELECT DISTINCT workshop_session.relay_id, {first}, attendance.beneficiary_id "
                   f"FROM attendance JOIN workshop_session ON workshop_session.id = attendance.session_id "
                   f"WHERE attendance.status = 'present'")


def downgrade():
    for table, _, _ in reversed(TABLES):
        op.drop_table(table)
