"""search tokens carry the person's sort keys

Revision ID: b7c1d2e3f4a5
Revises: 8f1a5cb0e1ad
Create Date: 2026-11-27 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c1d2e3f4a5'
down_revision = '8f1a5cb0e1ad'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('beneficiary_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_key', sa.String(length=80), server_default='', nullable=False))
        batch_op.add_column(sa.Column('first_key', sa.String(length=80), server_default='', nullable=False))
        batch_op.drop_index('ix_beneficiary_token_relay_token')
        batch_op.create_index('ix_beneficiary_token_relay_token',
                              ['relay_id', 'token', 'last_key', 'first_key', 'beneficiary_id'], unique=False)
    op.execute(
        "UPDATE beneficiary_token SET "
        "last_key = (SELECT last_key FROM beneficiary WHERE beneficiary.id = beneficiary_token.beneficiary_id), "
        "first_key = (SELECT first_key FROM beneficiary WHERE beneficiary.id = beneficiary_token.beneficiary_id)"
    )


def downgrade():
    with op.batch_alter_table('beneficiary_token', schema=None) as batch_op:
        batch_op.drop_index('ix_beneficiary_token_relay_token')
        batch_op.create_index('ix_beneficiary_token_relay_token', ['relay_id', 'token'], unique=False)
        batch_op.drop_column('first_key')
        batch_op.drop_column('last_key')
