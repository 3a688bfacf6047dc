"""绑定, 解绑 and 扫一扫 survive the upgrade from FSM data version 2 at every step, as the flows of
tests/dialogs/test_dialog_upgrade_flows.py do (their own tests' walks, each step begun on a dialog
rewritten into version 2 just before)."""

from __future__ import annotations

import pytest

from tests.dialogs.test_bind import test_bind_as_legal_rep as test_bind
from tests.dialogs.test_bind import test_tax_handler_unbinds as test_unbind
from tests.dialogs.test_bind import world
from tests.dialogs.test_handoff import clock, scripted
from tests.dialogs.test_handoff import test_collected_account_does_a_face_stepup as test_handoff_stepup
from tests.dialogs.test_handoff import test_collection_by_qr_code_reports_a_signed_result as test_handoff
from tests.helpers.old_dialogs import every_step_as_version_2

__all__ = [
    "clock",
    "every_step_as_version_2",
    "scripted",
    "test_bind",
    "test_handoff",
    "test_handoff_stepup",
    "test_unbind",
    "world",
]

pytestmark = pytest.mark.usefixtures("every_step_as_version_2")
