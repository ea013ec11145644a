"""The gate's document (:mod:`.export`) as JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure).

One ``<testcase>`` per gated (candidate, metric): a regression is a ``<failure>``; "cannot decide"
in the fixed design (exit 3, never a pass) is an ``<error>``; an undecided sequential verdict, which
the sequential gate does not fail, is ``<skipped>`` so it is visible without turning the build red.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET


def junit_xml(doc: dict[str, Any]) -> str:
    """A ``<testsuites>`` document with one ``<testsuite>`` for the gate run described by ``doc``."""
    items = doc["results"]
    failures = sum(i["exit_code"] == 1 for i in items)
    errors = sum(i["exit_code"] == 3 for i in items)
    skipped = sum(i["exit_code"] == 0 and not i["decided"] for i in items)
    name = f"cosmos-bench check ({doc['kind']}): {doc['candidate']} vs {doc['baseline']} on {doc['suite']}"
    root = ET.Element("testsuites", name="cosmos-bench", tests=str(len(items)), failures=str(failures), errors=str(errors))
    suite = ET.SubElement(root, "testsuite", name=name, tests=str(len(items)), failures=str(failures), errors=str(errors),
                          skipped=str(skipped), timestamp=str(doc["provenance"].get("created", "")))
    for item in items:
        case = ET.SubElement(suite, "testcase", classname=f"{doc['suite']}.{item['candidate']}", name=item["metric"])
        if item["exit_code"] == 1:
            ET.SubElement(case, "failure", type="regression", message=f"{item['metric']}: {item['verdict']}").text = item["why"]
        elif item["exit_code"] == 3:
            ET.SubElement(case, "error", type="undecided", message=f"{item['metric']}: cannot decide").text = item["why"]
        elif not item["decided"]:
            ET.SubElement(case, "skipped", message=f"{item['metric']}: {item['verdict']}").text = item["why"]
        ET.SubElement(case, "system-out").text = item["why"]
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
