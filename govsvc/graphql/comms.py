"""GraphQL of communication: roles on incidents, status updates and approvals, templates,
post-mortems and their reviewed, redacted public versions."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Self

import strawberry
from strawberry.scalars import JSON

from govsvc.authz.sensitivity import Sensitivity as SensitivityEnum
from govsvc.comms import models, postmortems, redact, templates, updates
from govsvc.errors import NotFound
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.incident_types import Sensitivity, Severity
from govsvc.graphql.relay import decode_id, decode_optional, global_id
from govsvc.graphql.resolvers import mutate, read, read_checked, read_or
from govsvc.incidents.classification import Severity as SeverityEnum
from govsvc.usecase import writing

strawberry.enum(models.Audience, name="Audience")
Audience = models.Audience
strawberry.enum(models.UpdateState, name="UpdateState")
UpdateState = models.UpdateState
strawberry.enum(models.EtaConfidence, name="EtaConfidence")
EtaConfidence = models.EtaConfidence
strawberry.enum(models.PostMortemState, name="PostMortemState")
PostMortemState = models.PostMortemState


@strawberry.type(description="A status update for one audience; published ones never change.")
class StatusUpdate:
    id: strawberry.ID
    audience: Audience
    number: int
    state: UpdateState
    status: str
    body: str
    supersedes_id: strawberry.ID | None
    next_update_due: datetime | None
    eta: datetime | None
    eta_confidence: EtaConfidence
    template: str | None
    author: str
    created_at: datetime
    published_at: datetime | None
    published_sha256: str | None

    @classmethod
    def from_model(cls, u: models.StatusUpdate) -> Self:
        return cls(
            id=strawberry.ID(global_id("StatusUpdate", u.id)),
            audience=models.Audience(u.audience),
            number=u.number,
            state=models.UpdateState(u.state),
            status=u.status,
            body=u.body,
            supersedes_id=strawberry.ID(global_id("StatusUpdate", u.supersedes_id))
            if u.supersedes_id
            else None,
            next_update_due=u.next_update_due,
            eta=u.eta,
            eta_confidence=models.EtaConfidence(u.eta_confidence),
            template=u.template,
            author=u.author,
            created_at=u.created_at,
            published_at=u.published_at,
            published_sha256=u.published_sha256,
        )


@strawberry.type
class MessageTemplate:
    name: str
    version: int
    audience: Audience
    severities: list[str]
    body: str
    variables: list[str]
    created_by: str

    @classmethod
    def from_model(cls, t: models.Template) -> Self:
        return cls(
            name=t.name,
            version=t.version,
            audience=models.Audience(t.audience),
            severities=json.loads(t.severities),
            body=t.body,
            variables=json.loads(t.variables),
            created_by=t.created_by,
        )


@strawberry.type
class PostMortem:
    state: PostMortemState
    sensitivity: Sensitivity
    revision: int
    sections: JSON
    authors: list[str]
    reviewers: list[str]
    approved_by: str | None
    updated_at: datetime
    text: str

    @classmethod
    def from_model(cls, p: models.PostMortem) -> Self:
        return cls(
            state=models.PostMortemState(p.state),
            sensitivity=SensitivityEnum(p.sensitivity),
            revision=p.revision,
            sections=json.loads(p.sections),
            authors=json.loads(p.authors),
            reviewers=json.loads(p.reviewers),
            approved_by=p.approved_by,
            updated_at=p.updated_at,
            text=postmortems.text_of(p),
        )


@strawberry.type(description="A span the redaction proposes to take out of the public text.")
class RedactionSpan:
    start: int
    end: int
    entity_type: str
    text: str
    score: float
    recognizer: str


@strawberry.input(description="A span to take out (accepted from the preview, or added).")
class RedactionSpanInput:
    start: int
    end: int
    entity_type: str


@strawberry.type(description="The published, redacted version of a post-mortem.")
class PublicPostMortem:
    title: str
    text: str = strawberry.field(description="Markdown, as published on the status page.")
    sha256: str
    source_revision: int
    source_sha256: str
    reviewed_by: str
    published_at: datetime

    @classmethod
    def from_model(cls, p: models.PublicPostMortem) -> Self:
        return cls(
            title=p.title,
            text=p.text,
            sha256=p.sha256,
            source_revision=p.source_revision,
            source_sha256=p.source_sha256,
            reviewed_by=p.reviewed_by,
            published_at=p.published_at,
        )


@strawberry.type
class CommsQuery:
    @strawberry.field(
        description="The current status for an audience: its latest published "
        "update, and nothing else."
    )
    async def incident_status(
        self,
        info: Info,
        incident_id: strawberry.ID,
        audience: Audience,
    ) -> StatusUpdate | None:
        found = await read_or(
            info,
            lambda uc: updates.current_for(
                uc, _incident_pk(incident_id), models.Audience(audience)
            ),
            missing=None,
        )
        return StatusUpdate.from_model(found) if found else None

    @strawberry.field(
        description="Every update of an incident you may read: per audience as your roles "
        "allow, drafts and rejections only for those who may write or approve them."
    )
    async def status_updates(self, info: Info, incident_id: strawberry.ID) -> list[StatusUpdate]:
        found: list[models.StatusUpdate] = await read_or(
            info, lambda uc: updates.list_for(uc, _incident_pk(incident_id)), missing=[]
        )
        return [StatusUpdate.from_model(u) for u in found]

    @strawberry.field(description="Message templates, every version.")
    async def message_templates(self, info: Info) -> list[MessageTemplate]:
        found = await read(info, templates.list_templates)
        return [MessageTemplate.from_model(t) for t in found]

    @strawberry.field(
        description="Render a template body with sample data (and your values); "
        "for those who may write templates."
    )
    async def template_preview(
        self, info: Info, body: str, variables: JSON | None = None
    ) -> TemplatePreview:
        values = variables if isinstance(variables, dict) else None
        return await read_checked(
            info,
            TemplatePreview,
            lambda uc: templates.preview(uc, body=body, values=values),
            ok=lambda text: TemplatePreview(text=text),
        )

    @strawberry.field(
        description="An incident's post-mortem (reading a restricted one is audited)."
    )
    async def post_mortem(self, info: Info, incident_id: strawberry.ID) -> PostMortem | None:
        # A read that writes: reading a restricted post-mortem is audited, in the same unit.
        try:
            async with writing(info.context.runtime, info.context.caller) as uc:
                pm = await postmortems.read(uc, incident_id=_incident_pk(incident_id))
        except NotFound:
            return None
        return PostMortem.from_model(pm)

    @strawberry.field(
        description="The published public version of an incident's post-mortem; null when "
        "none is published (or the incident is not yours)."
    )
    async def public_post_mortem(
        self, info: Info, incident_id: strawberry.ID
    ) -> PublicPostMortem | None:
        found = await read_or(
            info,
            lambda uc: postmortems.public_version(uc, incident_id=_incident_pk(incident_id)),
            missing=None,
        )
        return PublicPostMortem.from_model(found) if found else None

    @strawberry.field(description="What the redaction would take out of the public version.")
    async def post_mortem_redaction_preview(
        self, info: Info, incident_id: strawberry.ID
    ) -> list[RedactionSpan]:
        found: list[redact.SpanView] = await read_or(
            info,
            lambda uc: postmortems.redaction_preview(uc, incident_id=_incident_pk(incident_id)),
            missing=[],
        )
        return [
            RedactionSpan(
                start=s.start,
                end=s.end,
                entity_type=s.entity_type,
                text=s.text,
                score=s.score,
                recognizer=s.recognizer,
            )
            for s in found
        ]


# ---------------------------------------------------------------------------- mutations


@strawberry.enum(description="Why a communication mutation (or preview) refused its input.")
class CommsErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    COMMS_LEAD_REQUIRED = "COMMS_LEAD_REQUIRED"
    REDACTION_REQUIRED = "REDACTION_REQUIRED"
    TEMPLATE_LIMIT = "TEMPLATE_LIMIT"


@strawberry.type(description="Why a communication mutation (or preview) refused its input.")
class CommsError(UserError):
    code: CommsErrorCode


@strawberry.type(description="A rendered preview, or why the template cannot be rendered.")
class TemplatePreview:
    text: str | None = None
    errors: list[CommsError] = strawberry.field(default_factory=list)


@strawberry.input
class StatusUpdateDraftInput:
    incident_id: strawberry.ID
    audience: Audience
    status: str = strawberry.field(description="investigating, identified, monitoring, ...")
    body: str | None = None
    template: str | None = strawberry.field(default=None, description="Render this template.")
    variables: JSON | None = None
    supersedes_id: strawberry.ID | None = strawberry.field(
        default=None, description="The current update this one replaces (none for the first)."
    )
    next_update_due: datetime | None = None
    eta: datetime | None = None
    eta_confidence: EtaConfidence = models.EtaConfidence.UNKNOWN


@strawberry.input
class StatusUpdateDecideInput:
    update_id: strawberry.ID
    role: str
    approve: bool
    comment: str = ""


@strawberry.input
class StatusUpdateWithdrawInput:
    update_id: strawberry.ID


@strawberry.type
class StatusUpdatePayload:
    update: StatusUpdate | None = None
    errors: list[CommsError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, update: models.StatusUpdate) -> StatusUpdatePayload:
        return cls(update=StatusUpdate.from_model(update))


@strawberry.input
class TemplateCreateInput:
    name: str
    audience: Audience
    severities: list[Severity] = strawberry.field(default_factory=list)
    body: str


@strawberry.type
class TemplatePayload:
    template: MessageTemplate | None = None
    errors: list[CommsError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, template: models.Template) -> TemplatePayload:
        return cls(template=MessageTemplate.from_model(template))


@strawberry.input
class PostMortemSectionsInput:
    """Only the sections given change; the rest stay as they are."""

    summary: str | None = strawberry.UNSET
    customer_impact: str | None = strawberry.UNSET
    timeline: str | None = strawberry.UNSET
    root_cause: str | None = strawberry.UNSET
    contributing_factors: str | None = strawberry.UNSET
    action_items: str | None = strawberry.UNSET
    lessons: str | None = strawberry.UNSET

    def given(self) -> dict[str, str]:
        return {
            name: getattr(self, name) or ""
            for name in models.SECTIONS
            if getattr(self, name) is not strawberry.UNSET
        }


@strawberry.input
class PostMortemWriteInput:
    incident_id: strawberry.ID
    sections: PostMortemSectionsInput
    sensitivity: Sensitivity | None = None
    reviewers: list[str] | None = None
    customers: list[str] | None = strawberry.field(
        default=None, description="Customer names that must never appear in public."
    )


@strawberry.input
class PostMortemMoveInput:
    incident_id: strawberry.ID
    state: PostMortemState


@strawberry.type
class PostMortemPayload:
    post_mortem: PostMortem | None = None
    errors: list[CommsError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, pm: models.PostMortem) -> PostMortemPayload:
        return cls(post_mortem=PostMortem.from_model(pm))


@strawberry.input
class PostMortemPublishInput:
    incident_id: strawberry.ID
    spans: list[RedactionSpanInput]


@strawberry.type
class PublicPostMortemPayload:
    public_post_mortem: PublicPostMortem | None = None
    errors: list[CommsError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, public: models.PublicPostMortem) -> PublicPostMortemPayload:
        return cls(public_post_mortem=PublicPostMortem.from_model(public))


def _incident_pk(value: str) -> int:
    return decode_id(value, "Incident", field="incidentId")


def _update_pk(value: str) -> int:
    return decode_id(value, "StatusUpdate", field="updateId")


@strawberry.type
class CommsMutation:
    @strawberry.mutation(
        description="Write a status update; it publishes at once unless the rules want approvals."
    )
    async def status_update_draft(
        self, info: Info, input: StatusUpdateDraftInput
    ) -> StatusUpdatePayload:
        due: datetime | None = input.next_update_due
        eta: datetime | None = input.eta
        return await mutate(
            info,
            StatusUpdatePayload,
            lambda uc: updates.draft_update(
                uc,
                updates.Draft(
                    incident_id=_incident_pk(input.incident_id),
                    audience=models.Audience(input.audience),
                    status=input.status,
                    body=input.body,
                    template=input.template,
                    variables=input.variables if isinstance(input.variables, dict) else None,
                    supersedes_id=decode_optional(
                        input.supersedes_id, "StatusUpdate", field="supersedesId"
                    ),
                    next_update_due=due,
                    eta=eta,
                    eta_confidence=models.EtaConfidence(input.eta_confidence),
                ),
            ),
            ok=StatusUpdatePayload.of,
        )

    @strawberry.mutation(description="Approve or reject a draft in a role its rules name.")
    async def status_update_decide(
        self, info: Info, input: StatusUpdateDecideInput
    ) -> StatusUpdatePayload:
        return await mutate(
            info,
            StatusUpdatePayload,
            lambda uc: updates.decide(
                uc,
                update_id=_update_pk(input.update_id),
                role=input.role,
                approve=input.approve,
                comment=input.comment,
            ),
            ok=StatusUpdatePayload.of,
        )

    @strawberry.mutation(description="Withdraw a draft (it stays on record).")
    async def status_update_withdraw(
        self, info: Info, input: StatusUpdateWithdrawInput
    ) -> StatusUpdatePayload:
        return await mutate(
            info,
            StatusUpdatePayload,
            lambda uc: updates.withdraw(uc, update_id=_update_pk(input.update_id)),
            ok=StatusUpdatePayload.of,
        )

    @strawberry.mutation(description="Add a template, or a new version of one.")
    async def template_create(self, info: Info, input: TemplateCreateInput) -> TemplatePayload:
        return await mutate(
            info,
            TemplatePayload,
            lambda uc: templates.create(
                uc,
                name=input.name,
                audience=models.Audience(input.audience),
                severities=[SeverityEnum(s) for s in input.severities],
                body=input.body,
            ),
            ok=TemplatePayload.of,
        )

    @strawberry.mutation(description="Write or revise the post-mortem's sections.")
    async def post_mortem_write(self, info: Info, input: PostMortemWriteInput) -> PostMortemPayload:
        return await mutate(
            info,
            PostMortemPayload,
            lambda uc: postmortems.write(
                uc,
                incident_id=_incident_pk(input.incident_id),
                sections=input.sections.given(),
                sensitivity=SensitivityEnum(input.sensitivity) if input.sensitivity else None,
                reviewers=input.reviewers,
                customers=input.customers,
            ),
            ok=PostMortemPayload.of,
        )

    @strawberry.mutation(description="Move a post-mortem: to review, back to draft, approved.")
    async def post_mortem_move(self, info: Info, input: PostMortemMoveInput) -> PostMortemPayload:
        return await mutate(
            info,
            PostMortemPayload,
            lambda uc: postmortems.move(
                uc,
                incident_id=_incident_pk(input.incident_id),
                state=models.PostMortemState(input.state),
            ),
            ok=PostMortemPayload.of,
        )

    @strawberry.mutation(
        description="Publish the public version with the reviewed spans taken "
        "out; refused while anything personal or secret remains."
    )
    async def post_mortem_publish(
        self, info: Info, input: PostMortemPublishInput
    ) -> PublicPostMortemPayload:
        spans = [
            redact.SpanView(
                start=s.start,
                end=s.end,
                entity_type=s.entity_type,
                text="",
                score=1.0,
                recognizer="reviewer",
            )
            for s in input.spans
        ]
        return await mutate(
            info,
            PublicPostMortemPayload,
            lambda uc: postmortems.publish(
                uc, incident_id=_incident_pk(input.incident_id), spans=spans
            ),
            ok=PublicPostMortemPayload.of,
        )
