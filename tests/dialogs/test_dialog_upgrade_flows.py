"""Every flow survives the upgrade from FSM data version 2 (own values as loose keys) at every step:
the walks of the flows' own tests, each step begun on a dialog rewritten into version 2 just before
(tests/helpers/old_dialogs.py), end as those tests assert.

The walks: 采集 by ID card (with a correction on 【信息核实】) and by permit, 补录 of an expired card and
of the on-site photo, 变更 of phone and residence, 维护 with its face login (the rest, with fixtures
of their own: tests/dialogs/test_dialog_upgrade_accounts.py).
"""

from __future__ import annotations

import pytest

from tests.dialogs.test_change import test_change_phone_and_residence_relinks_the_account as test_change
from tests.dialogs.test_collect import registry_person, scripted
from tests.dialogs.test_collect import test_correction_must_agree_with_birth_date as test_collect_correction
from tests.dialogs.test_collect import test_happy_path_saves_one_person as test_collect
from tests.dialogs.test_collect import test_other_documents_path as test_collect_permit
from tests.dialogs.test_collect import test_wrong_code_then_right_code as test_collect_phone_codes
from tests.dialogs.test_maintain import test_legal_rep_maintains_a_persons_phone as test_maintain
from tests.dialogs.test_maintain import world
from tests.dialogs.test_supplement import test_expired_card_is_collected_again as test_supplement_card
from tests.dialogs.test_supplement import test_missing_live_photo_is_captured as test_supplement_photo
from tests.helpers.old_dialogs import every_step_as_version_2

__all__ = [
    "every_step_as_version_2",
    "registry_person",
    "scripted",
    "test_change",
    "test_collect",
    "test_collect_correction",
    "test_collect_permit",
    "test_collect_phone_codes",
    "test_maintain",
    "test_supplement_card",
    "test_supplement_photo",
    "world",
]

pytestmark = pytest.mark.usefixtures("every_step_as_version_2")
