"""cash sessions, per-method counts and bank deposits instead of one closing per day

Revision ID: c4a7e91d2b60
Revises: c4e7a91d2b68
Create Date: 2026-12-05 09:00:00

Each cash_closing row becomes a closed cash_session with the same id (so that its ledger entry,
which names that id, still finds it) and payload format 1, its three methods become cash_count
rows, and each sale joins the closed session of its local day. A relay's receipts after its last
closing go into one open session (float 0), so that the till keeps working after the upgrade.
"""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'c4a7e91d2b60'
down_revision = 'c4e7a91d2b68'
branch_labels = None
depends_on = None

FORMAT_1_METHODS = ('cash', 'card', 'cheque')  # the columns of cash_closing

closing = sa.table(
    'cash_closing', sa.column('id', sa.Integer), sa.column('relay_id', sa.Integer), sa.column('day', sa.Date),
    *(sa.column(f'{kind}_{m}_cents', sa.Integer) for kind in ('expected', 'counted') for m in FORMAT_1_METHODS),
    sa.column('cash_detail', sa.Text), sa.column('difference_reason', sa.String), sa.column('sales_count', sa.Integer),
    sa.column('first_number', sa.String), sa.column('last_number', sa.String),
    sa.column('day_total_cents', sa.Integer), sa.column('grand_total_cents', sa.Integer),
    sa.column('closed_by_id', sa.Integer), sa.column('closed_at', sa.DateTime))
session = sa.table(
    'cash_session', sa.column('id', sa.Integer), sa.column('relay_id', sa.Integer),
    sa.column('opened_at', sa.DateTime), sa.column('opened_by_id', sa.Integer),
    sa.column('opening_float_cents', sa.Integer), sa.column('closed_at', sa.DateTime),
    sa.column('closed_by_id', sa.Integer), sa.column('day', sa.Date), sa.column('cash_detail', sa.Text),
    sa.column('difference_reason', sa.String), sa.column('sales_count', sa.Integer),
    sa.column('first_number', sa.String), sa.column('last_number', sa.String), sa.column('total_cents', sa.Integer),
    sa.column('grand_total_cents', sa.Integer), sa.column('payload_format', sa.Integer))
count = sa.table('cash_count', sa.column('session_id', sa.Integer), sa.column('method', sa.String),
                 sa.column('expected_cents', sa.Integer), sa.column('counted_cents', sa.Integer))
sale = sa.table('sale', sa.column('id', sa.Integer), sa.column('relay_id', sa.Integer),
                sa.column('created_at', sa.DateTime), sa.column('cash_session_id', sa.Integer))


def upgrade():
    op.create_table('cash_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('relay_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opening_float_cents', sa.Integer(), nullable=False),
    sa.Column('carried_from_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('cash_detail', sa.Text(), nullable=False),
    sa.Column('difference_reason', sa.String(length=300), nullable=False),
    sa.Column('sales_count', sa.Integer(), nullable=False),
    sa.Column('first_number', sa.String(length=30), nullable=False),
    sa.Column('last_number', sa.String(length=30), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('grand_total_cents', sa.Integer(), nullable=False),
    sa.Column('payload_format', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['carried_from_id'], ['cash_session.id'], name=op.f('fk_cash_session_carried_from_id_cash_session')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['app_user.id'], name=op.f('fk_cash_session_closed_by_id_app_user')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['app_user.id'], name=op.f('fk_cash_session_opened_by_id_app_user')),
    sa.ForeignKeyConstraint(['relay_id'], ['relay.id'], name=op.f('fk_cash_session_relay_id_relay')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_session'))
    )
    op.create_index('ix_cash_session_relay_day', 'cash_session', ['relay_id', 'day'], unique=False)
    op.create_index('uq_cash_session_open', 'cash_session', ['relay_id'], unique=True,
                    sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
    op.create_table('cash_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('expected_cents', sa.Integer(), nullable=False),
    sa.Column('counted_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['cash_session.id'], name=op.f('fk_cash_count_session_id_cash_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_count')),
    sa.UniqueConstraint('session_id', 'method', name=op.f('uq_cash_count_session_id'))
    )
    op.create_table('bank_deposit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('slip_number', sa.String(length=40), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_bank_deposit_amount_positive')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_bank_deposit_recorded_by_id_app_user')),
    sa.ForeignKeyConstraint(['session_id'], ['cash_session.id'], name=op.f('fk_bank_deposit_session_id_cash_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_deposit'))
    )
    with op.batch_alter_table('bank_deposit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_deposit_session_id'), ['session_id'], unique=False)
    # Not a batch: on SQLite it would copy the sale table and drop it, which the rows of
    # sale_line and payment forbid (foreign keys on); ADD COLUMN … REFERENCES needs no copy.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE sale ADD COLUMN cash_session_id INTEGER '
                   'CONSTRAINT fk_sale_cash_session_id_cash_session REFERENCES cash_session (id)')
    else:
        op.add_column('sale', sa.Column('cash_session_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_sale_cash_session_id_cash_session'), 'sale', 'cash_session',
                              ['cash_session_id'], ['id'])
    op.create_index(op.f('ix_sale_cash_session_id'), 'sale', ['cash_session_id'], unique=False)
    _copy_closings()
    _open_sessions_for_recent_receipts()
    op.drop_table('cash_closing')


def _day_bounds(day, zone):
    """The local day's start and end as naive UTC datetimes (as portal.clock.day_bounds, frozen here)."""
    def midnight(d):
        return datetime.combine(d, time.min, tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    return midnight(day), midnight(day + timedelta(days=1))


def _copy_closings():
    bind = op.get_bind()
    zone = ZoneInfo(current_app.config.get('TIMEZONE', 'Europe/Paris'))
    for row in bind.execute(sa.select(closing).order_by(closing.c.id)).mappings().all():
        start, end = _day_bounds(row['day'], zone)
        of_day = (sale.c.relay_id == row['relay_id'], sale.c.created_at >= start, sale.c.created_at < end)
        first = bind.scalar(sa.select(sa.func.min(sale.c.created_at)).where(*of_day))
        bind.execute(session.insert().values(
            id=row['id'], relay_id=row['relay_id'], opened_at=first or start, opened_by_id=None,
            opening_float_cents=0, closed_at=row['closed_at'], closed_by_id=row['closed_by_id'], day=row['day'],
            cash_detail=row['cash_detail'], difference_reason=row['difference_reason'],
            sales_count=row['sales_count'], first_number=row['first_number'], last_number=row['last_number'],
            total_cents=row['day_total_cents'], grand_total_cents=row['grand_total_cents'], payload_format=1))
        bind.execute(count.insert(), [
            {'session_id': row['id'], 'method': m, 'expected_cents': row[f'expected_{m}_cents'],
             'counted_cents': row[f'counted_{m}_cents']} for m in FORMAT_1_METHODS])
        bind.execute(sale.update().where(*of_day).values(cash_session_id=row['id']))
    if bind.dialect.name == 'postgresql':  # the ids were given: new sessions count on from the last one
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('cash_session', 'id'), "
                             "COALESCE((SELECT max(id) FROM cash_session), 0) + 1, false)"))


def _open_sessions_for_recent_receipts():
    bind = op.get_bind()
    rows = bind.execute(sa.select(sale.c.relay_id, sa.func.min(sale.c.created_at))
                        .where(sale.c.cash_session_id.is_(None)).group_by(sale.c.relay_id)).all()
    for relay_id, first in rows:
        bind.execute(session.insert().values(
            relay_id=relay_id, opened_at=first, opened_by_id=None, opening_float_cents=0, cash_detail='',
            difference_reason='', sales_count=0, first_number='', last_number='', total_cents=0,
            grand_total_cents=0, payload_format=2))
        opened = bind.scalar(sa.select(session.c.id).where(session.c.relay_id == relay_id,
                                                           session.c.closed_at.is_(None)))
        bind.execute(sale.update().where(sale.c.relay_id == relay_id, sale.c.cash_session_id.is_(None))
                     .values(cash_session_id=opened))


def downgrade():
    # Only the closings that were days (format 1) go back: sessions have no place in cash_closing.
    op.create_table('cash_closing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('relay_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    *(sa.Column(f'{kind}_{m}_cents', sa.Integer(), nullable=False)
      for kind in ('expected', 'counted') for m in FORMAT_1_METHODS),
    sa.Column('cash_detail', sa.Text(), nullable=False),
    sa.Column('difference_reason', sa.String(length=300), nullable=False),
    sa.Column('sales_count', sa.Integer(), nullable=False),
    sa.Column('first_number', sa.String(length=30), nullable=False),
    sa.Column('last_number', sa.String(length=30), nullable=False),
    sa.Column('day_total_cents', sa.Integer(), nullable=False),
    sa.Column('grand_total_cents', sa.Integer(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['app_user.id'], name=op.f('fk_cash_closing_closed_by_id_app_user')),
    sa.ForeignKeyConstraint(['relay_id'], ['relay.id'], name=op.f('fk_cash_closing_relay_id_relay')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_closing')),
    sa.UniqueConstraint('relay_id', 'day', name=op.f('uq_cash_closing_relay_id'))
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(session).where(session.c.payload_format == 1)).mappings().all():
        counts = {m: (e, c) for m, e, c in bind.execute(
            sa.select(count.c.method, count.c.expected_cents, count.c.counted_cents)
            .where(count.c.session_id == row['id']))}
        bind.execute(closing.insert().values(
            id=row['id'], relay_id=row['relay_id'], day=row['day'], cash_detail=row['cash_detail'],
            difference_reason=row['difference_reason'], sales_count=row['sales_count'],
            first_number=row['first_number'], last_number=row['last_number'], day_total_cents=row['total_cents'],
            grand_total_cents=row['grand_total_cents'], closed_by_id=row['closed_by_id'], closed_at=row['closed_at'],
            **{f'expected_{m}_cents': counts.get(m, (0, 0))[0] for m in FORMAT_1_METHODS},
            **{f'counted_{m}_cents': counts.get(m, (0, 0))[1] for m in FORMAT_1_METHODS}))
    op.drop_index(op.f('ix_sale_cash_session_id'), table_name='sale')
    if bind.dialect.name == 'sqlite':
        op.execute('PRAGMA foreign_keys = OFF')  # recreating sale must not trip over its lines' keys
    with op.batch_alter_table('sale', schema=None) as batch_op:
        if bind.dialect.name != 'sqlite':
            batch_op.drop_constraint(batch_op.f('fk_sale_cash_session_id_cash_session'), type_='foreignkey')
        batch_op.drop_column('cash_session_id')
    with op.batch_alter_table('bank_deposit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_deposit_session_id'))
    op.drop_table('bank_deposit')
    op.drop_table('cash_count')
    op.drop_index('uq_cash_session_open', table_name='cash_session')
    op.drop_index('ix_cash_session_relay_day', table_name='cash_session')
    op.drop_table('cash_session')
