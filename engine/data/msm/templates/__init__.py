"""The offline template generator: documents written from built-in templates.

The writers are grouped by kind of document (:mod:`.press`, :mod:`.workplace`,
:mod:`.reference`, :mod:`.conversation`) and share :class:`.writer.Writer` and the phrase
pools in :mod:`.phrases`; :mod:`.generator` maps each document type to its writer.
"""

from engine.data.msm.templates.generator import TEMPLATE_WRITERS, TemplateDocWriter, write_document

__all__ = ["TEMPLATE_WRITERS", "TemplateDocWriter", "write_document"]
