"""OS end-of-support lookup: boundaries, free vs paid extended phases, editions, unknowns."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from checks.endpoint.eol import load_table, support_status
from checks.endpoint.inventory import OsFamily, OsInfo

DAY = timedelta(days=1)


def linux(product: str, version: str) -> OsInfo:
    return OsInfo(family=OsFamily.LINUX, name=f"{product} {version}", product_id=product, version=version)


def windows(product: str, version: str, edition: str | None = None) -> OsInfo:
    return OsInfo(family=OsFamily.WINDOWS, name=f"{product} {version}", product_id=product, version=version,
                  edition=edition)


def mac(version: str) -> OsInfo:
    return OsInfo(family=OsFamily.MACOS, name=f"macOS {version}", product_id="macos", version=version)


@pytest.mark.parametrize(("os", "last_day"), [
    (linux("debian", "11"), date(2026, 8, 31)),  # Debian LTS end
    (linux("debian", "10"), date(2024, 6, 30)),
    (linux("ubuntu", "20.04"), date(2025, 5, 29)),  # standard support; ESM is paid
    (linux("ubuntu", "24.10"), date(2025, 7, 10)),
    (linux("rhel", "9.4"), date(2032, 5, 31)),
    (linux("rhel", "7.9"), date(2024, 6, 30)),  # ELS is paid
    (linux("rocky", "8.10"), date(2029, 5, 31)),
    (linux("almalinux", "8.9"), date(2029, 3, 1)),
    (linux("fedora", "42"), date(2026, 5, 28)),
    (mac("12.7.6"), date(2024, 7, 29)),
    (windows("windows-10", "22H2", "Professional"), date(2025, 10, 14)),
    (windows("windows-8.1", ""), date(2023, 1, 10)),
    (windows("windows-7", "6.1"), date(2020, 1, 14)),
    (windows("windows-server-2012-r2", "2012"), date(2023, 10, 10)),
    (windows("windows-server-2016", "2016"), date(2027, 1, 12)),
    (windows("windows-server-2022", "2022"), date(2031, 10, 14)),
])
def test_boundary(os: OsInfo, last_day: date) -> None:
    on = support_status(os, last_day)
    after = support_status(os, last_day + DAY)
    assert on.supported is True and on.ends == last_day
    assert after.supported is False and after.ends == last_day
    assert "source:" in on.detail and last_day.isoformat() in after.detail


def test_debian_lts_counts_as_supported() -> None:
    status = support_status(linux("debian", "12"), date(2026, 11, 23))
    assert status.supported is True and status.ends == date(2028, 6, 30)
    assert status.detail.startswith("Debian 12: regular security support ended 2026-06-10; Debian LTS until 2028-06-30")
    before = support_status(linux("debian", "12"), date(2026, 1, 1))
    assert before.supported is True and "regular security support until 2026-06-10" in before.detail


def test_debian_13_regular_end_unknown_but_lts_published() -> None:
    status = support_status(linux("debian", "13"), date(2026, 11, 23))
    assert status.supported is True and status.ends == date(2030, 6, 30)
    assert "not yet published" in status.detail


def test_paid_extended_support_is_named_but_not_counted() -> None:
    status = support_status(linux("ubuntu", "18.04"), date(2026, 11, 23))
    assert status.supported is False
    assert "Ubuntu Pro ESM" in status.detail and "paid subscription" in status.detail and "not counted" in status.detail
    esu = support_status(windows("windows-10", "22H2", "Core"), date(2026, 11, 23))
    assert esu.supported is False and "Extended Security Updates" in esu.detail


def test_month_only_dates_count_to_the_end_of_the_month() -> None:
    status = support_status(linux("ubuntu", "22.04"), date(2027, 4, 30))
    assert status.supported is True and status.ends == date(2027, 4, 30) and "month only" in status.detail
    assert support_status(linux("ubuntu", "22.04"), date(2027, 5, 1)).supported is False


def test_windows_11_home_vs_enterprise() -> None:
    day = date(2026, 1, 15)  # 23H2: Home/Pro ended 2025-11-11, Enterprise/Education run to 2026-11-10
    home = support_status(windows("windows-11", "23H2", "Core"), day)
    pro = support_status(windows("windows-11", "23H2", "Professional"), day)
    ent = support_status(windows("windows-11", "23H2", "Enterprise"), day)
    edu = support_status(windows("windows-11", "23H2", "Education"), day)
    assert (home.supported, pro.supported, ent.supported, edu.supported) == (False, False, True, True)
    assert home.ends == date(2025, 11, 11) and ent.ends == date(2026, 11, 10)
    assert support_status(windows("windows-11", "23H2", "Enterprise"), date(2026, 11, 11)).supported is False


def test_windows_11_edition_unknown_decides_only_when_all_editions_agree() -> None:
    split = support_status(windows("windows-11", "23H2"), date(2026, 1, 15))
    assert split.supported is None and "depends on the edition" in split.detail
    both_over = support_status(windows("windows-11", "22H2", "SomethingNew"), date(2026, 1, 15))
    assert both_over.supported is False and "not recognised" in both_over.detail
    both_on = support_status(windows("windows-11", "25H2"), date(2026, 11, 23))
    assert both_on.supported is True


def test_windows_version_case_alias_and_ltsc() -> None:
    assert support_status(windows("windows-11", "24h2", "Professional"), date(2026, 10, 13)).supported is True
    old = support_status(windows("windows-10", "2009", "Enterprise"), date(2023, 5, 9))  # ReleaseId of 20H2
    assert old.supported is True and "Windows 10 20H2" in old.detail
    ltsc = support_status(windows("windows-10", "1809", "EnterpriseS"), date(2026, 11, 23))
    assert ltsc.supported is True and ltsc.ends == date(2029, 1, 9)
    no_ltsc = support_status(windows("windows-10", "22H2", "EnterpriseS"), date(2024, 1, 1))
    assert no_ltsc.supported is None


@pytest.mark.parametrize("os", [
    linux("gentoo", "2.15"),
    linux("debian", "8"),
    linux("ubuntu", "23.04"),
    linux("fedora", "43"),
    mac("14.6.1"),
    mac("15.1"),
    windows("windows-12", "24H2", "Core"),
])
def test_unknown_is_never_supported(os: OsInfo) -> None:
    status = support_status(os, date(2026, 11, 23))
    assert status.supported is None and status.ends is None and status.detail


def test_macos_no_published_date_says_so() -> None:
    status = support_status(mac("14.6.1"), date(2026, 11, 23))
    assert "Apple publishes no end-of-support date" in status.detail
    assert support_status(mac("11.7.10"), date(2023, 9, 11)).supported is True


def test_upper_bound_only() -> None:
    early = support_status(linux("fedora", "41"), date(2025, 10, 1))
    assert early.supported is None
    late = support_status(linux("fedora", "41"), date(2026, 6, 1))
    assert late.supported is False and "no later than 2026-05-28" in late.detail


def test_table_has_a_source_for_every_product_and_the_windows_ids() -> None:
    table = load_table()
    for product in table.values():
        assert product["source"] and product["versions"]
    for pid in ("windows-7", "windows-8.1", "windows-10", "windows-11", "windows-server-2012", "windows-server-2012-r2",
                "windows-server-2016", "windows-server-2019", "windows-server-2022", "windows-server-2025"):
        assert pid in table
    for pid in ("debian", "ubuntu", "rhel", "rocky", "almalinux", "fedora", "centos", "macos"):
        assert pid in table
