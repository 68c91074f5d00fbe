"""Processor: one step of a device's Stage 2 chain."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import ClassVar

from meshinsights.data_object import PipelineDataObject
from meshinsights.errors import ProcessorError, SkipProcessor
from meshinsights.logs import current_device_id, device_context

logger = logging.getLogger(__name__)


class Processor(ABC):
    """A stateless step that reads a data object and writes artifacts to it.

    Calling a processor registers its output schemas, checks prerequisites,
    runs :meth:`process`, then :meth:`validate_output`, timing the whole and
    recording failures on the data object. A failure stops the device's chain
    (:class:`ProcessorError`) unless ``continue_on_error`` is set; the other
    devices are never affected.
    """

    #: Record the error and let the next processors run anyway.
    continue_on_error: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        """Register pandera schemas for the DataFrame artifacts this step writes."""

    def validate_prerequisites(self, data_object: PipelineDataObject) -> bool:
        """Return False (or raise :class:`SkipProcessor` with a reason) to skip this step."""
        return True

    @abstractmethod
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        """The step's logic: read datasets and artifacts, ``set_artifact`` the results."""

    def validate_output(self, data_object: PipelineDataObject) -> None:
        """Raise if the step's results are unusable (an error, the chain stops)."""

    def __call__(self, data_object: PipelineDataObject) -> PipelineDataObject:
        device_id = data_object.device_id
        if current_device_id.get() != device_id:  # called outside the pipeline
            with device_context(device_id):
                return self._run(data_object, device_id)
        return self._run(data_object, device_id)

    def _run(self, data_object: PipelineDataObject, device_id: str | None) -> PipelineDataObject:
        started = time.perf_counter()
        try:
            self.register_output_schemas(data_object)
            if not self.validate_prerequisites(data_object):
                raise SkipProcessor("prerequisites not met")
            returned = self.process(data_object)
            if returned is not None and returned is not data_object:
                raise TypeError(
                    "process() must return the data object it was given (or None), "
                    f"not {type(returned).__name__}"
                )
            self.validate_output(data_object)
        except SkipProcessor as skip:
            data_object.add_warning(f"{self.name} skipped: {skip}", stage="cpu", component=self.name)
            logger.info("%s skipped: %s", self.name, skip)
        except Exception as exc:
            message = (
                f"device {device_id!r}: cpu stage, processor {self.name}: "
                f"{type(exc).__name__}: {exc}"
            )
            data_object.add_error(message, stage="cpu", component=self.name)
            logger.error("%s", message, exc_info=logger.isEnabledFor(logging.DEBUG))
            if not self.continue_on_error:
                raise ProcessorError(message) from exc
        finally:
            elapsed = time.perf_counter() - started
            data_object.timings[self.name] = elapsed
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s finished in %.6f s", self.name, elapsed)
        return data_object
