"""Every table, imported in one place so Alembic and create_all see the whole schema."""

from govsvc.alerts import models as alert_models
from govsvc.audit import models as audit_models
from govsvc.auth import models as auth_models
from govsvc.chat import models as chat_models
from govsvc.command import models as command_models
from govsvc.comms import models as comms_models
from govsvc.compliance import models as compliance_models
from govsvc.db import Base
from govsvc.evidence import models as evidence_models
from govsvc.grants import models as authz_models
from govsvc.idempotency import models as idempotency_models
from govsvc.incidents import models as incident_models
from govsvc.oncall import models as oncall_models
from govsvc.org import models as org_models
from govsvc.outbox import models as outbox_models
from govsvc.runbooks import models as runbook_models

metadata = Base.metadata

__all__ = [
    "alert_models",
    "audit_models",
    "auth_models",
    "authz_models",
    "chat_models",
    "command_models",
    "comms_models",
    "compliance_models",
    "evidence_models",
    "idempotency_models",
    "incident_models",
    "metadata",
    "oncall_models",
    "org_models",
    "outbox_models",
    "runbook_models",
]
