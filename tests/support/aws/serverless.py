"""A fake EMR Serverless over the moto server, for what moto does not do.

moto (5.x) implements create/get/list/start/stop/delete application and start/get/cancel/list
job run, but its applications are STARTED at once, its job runs SUCCESS at once with zero billed
usage and no stateDetails, a cancelled run is CANCELLED at once, and a stopped application
STOPPED at once; nothing is ever QUEUED, PENDING or RUNNING, and it has no Service Quotas for
emr-serverless and no Price List. ``FakeServerless`` passes every request to moto and, per
poll, answers GetJobRun and GetApplication with the next state of a script (like ``FakeEmr``),
with AWS's own fields for a run that ended (stateDetails, billedResourceUtilization); it writes
the driver's logs where EMR Serverless puts them when a run ends, and answers the quota and the
Price List when a test gives them."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from bigfruits.aws.requests import emr_serverless
from tests.support.aws.server import BUCKET, MotoSender, put_gz

#: What AWS bills for a short run of our sizes (a 2-vCPU driver and a 4-vCPU executor, a few
#: minutes): vCPU-hours, GB-hours, storage GB-hours.
BILLED = {"vCPUHour": 0.4, "memoryGBHour": 1.6, "storageGBHour": 0.0}


def price_list_answer(vcpu: float, gb: float, storage: float, region: str = "eu-west-1") -> Dict[str, Any]:
    """A GetProducts answer for EMR Serverless in ``region``: x86 and ARM products (ours is x86)."""
    def product(usage: str, usd: float) -> str:
        return json.dumps({"product": {"productFamily": "EMR Serverless", "attributes": {"usagetype": usage}},
                           "terms": {"OnDemand": {"T": {"priceDimensions": {"D": {
                               "unit": "hours", "pricePerUnit": {"USD": str(usd)}}}}}}})
    return {"FormatVersion": "aws_v1", "PriceList": [
        product("EUW1-EMR-SERVERLESS-ARM-vCPUHours", vcpu * 0.8), product("EUW1-EMR-SERVERLESS-vCPUHours", vcpu),
        product("EUW1-EMR-SERVERLESS-ARM-MemoryGBHours", gb * 0.8), product("EUW1-EMR-SERVERLESS-MemoryGBHours", gb),
        product("EUW1-EMR-SERVERLESS-StorageGBHours", storage)]}


class FakeServerless(MotoSender):
    """``job_states``: GetJobRun's state at each poll (the last repeats); after CancelJobRun,
    ``cancel_states``. ``logs``: {"stderr": text, "stdout": text} put under the run's driver
    log key when a run ends. ``quota``: GetServiceQuota's value (None: moto's own answer, an
    error). ``prices``: a GetProducts answer (None: moto's, an error)."""

    def __init__(self, inner: Sender, job_states: Optional[List[str]] = None,
                 cancel_states: Optional[List[str]] = None, state_details: str = "",
                 logs: Optional[Dict[str, str]] = None, quota: Optional[float] = None,
                 prices: Optional[Dict[str, Any]] = None, application_states: Optional[List[str]] = None) -> None:
        super().__init__(inner)
        self.job_states = list(job_states or ["SUBMITTED", "SCHEDULED", "RUNNING", "SUCCESS"])
        self.cancel_states = list(cancel_states or ["CANCELLING", "CANCELLED"])
        self.state_details = state_details
        self.logs = dict(logs or {})
        self.quota = quota
        self.prices = prices
        #: GetApplication's state at each poll once StopApplication was sent (moto: STOPPED at once).
        self.application_states = list(application_states or ["STOPPING", "STOPPED"])
        self.polls: Dict[str, int] = {}
        self.cancelled: List[str] = []
        self.stopped: List[str] = []
        self.sent: List[AwsRequest] = []

    def _next(self, key: str, script: List[str]) -> str:
        n = self.polls.get(key, 0)
        self.polls[key] = n + 1
        return script[min(n, len(script) - 1)]

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        self.sent.append(request)
        op, params = request.operation, request.params
        if op == "GetServiceQuota" and self.quota is not None:
            return {"Quota": {"ServiceCode": "emr-serverless", "QuotaCode": "L-D05C8A75", "Value": self.quota}}
        if op == "GetProducts" and self.prices is not None:
            return copy.deepcopy(self.prices)
        if op == "ListJobRuns":
            return self._list_job_runs(params)
        answer = super().send(request)
        if op == "CancelJobRun":
            self.cancelled.append(params["jobRunId"])
        elif op == "StopApplication":
            self.stopped.append(params["applicationId"])
        elif op == "GetJobRun":
            answer = self._job_run(copy.deepcopy(answer), params)
        elif op == "GetApplication" and params["applicationId"] in self.stopped:
            answer = copy.deepcopy(answer)
            answer["application"]["state"] = self._next("app:" + params["applicationId"], self.application_states)
        return answer

    def _state(self, job: str) -> str:
        """The run's next scripted state (moto's is SUCCESS from the start)."""
        if job in self.cancelled:
            return self._next("cancel:" + job, self.cancel_states)
        return self._next("job:" + job, self.job_states)

    def _list_job_runs(self, params: Dict[str, Any]) -> Dict[str, Any]:
        """moto's runs with their scripted states (each listing is a poll), filtered as asked."""
        listed = super().send(AwsRequest("emr-serverless", "ListJobRuns", {"applicationId": params["applicationId"]}))
        runs = []
        for run in listed.get("jobRuns", []):
            run = {**run, "state": self._state(run["id"])}
            if not params.get("states") or run["state"] in params["states"]:
                runs.append(run)
        return {"jobRuns": runs}

    def _job_run(self, answer: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
        job = params["jobRunId"]
        state = self._state(job)
        run = answer["jobRun"]
        run["state"] = state
        if state in emr_serverless.JOB_DONE_STATES:
            run["billedResourceUtilization"] = dict(BILLED)
            if state != "SUCCESS" and self.state_details:
                run["stateDetails"] = self.state_details
            for stream, text in self.logs.items():
                put_gz(BUCKET, emr_serverless.driver_log_key(params["applicationId"], job, stream), text)
        return answer


#: What the command tests upload as "the dependency archive": they test what is sent and
#: where; the real one (a pip install for the image's Python) is built and run by
#: tests/e2e/test_serverless_archive.py and test_serverless_spark_submit.py.
STAND_IN_ARCHIVE = b"stand-in dependency archive of the command tests: never unpacked"


def archive_stand_in(monkeypatch: Any, folder: Path) -> List[str]:
    """``serverless_archive.build_archive`` replaced by a small file named by the Python it is
    for (the real one builds our wheel, a wheelhouse from PyPI and the archive: tens of seconds,
    a network); the Pythons it was asked for, in order. For function-scoped fixtures and, called
    directly, module-scoped ones (which set up before any function-scoped fixture)."""
    from bigfruits.aws.procedures import serverless_archive

    built: List[str] = []

    def stand_in(python_version: str = "3.9", echo: Any = None) -> Path:
        serverless_archive.check_python(python_version)
        path = folder / f"stand-in-archive-{python_version}.tar.gz"
        path.write_bytes(STAND_IN_ARCHIVE + python_version.encode())
        built.append(python_version)
        return path

    monkeypatch.setattr(serverless_archive, "build_archive", stand_in)
    return built
