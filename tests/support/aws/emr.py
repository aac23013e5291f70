"""A fake EMR over the moto server: clusters and steps that advance one state per poll, and a
pipeline step that "writes" its results where its own ``--output`` argument says."""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

from bigfruits.aws.core.botocore_errors import translate
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from tests.support.aws.server import MotoSender


class FakeEmr(MotoSender):
    """Moto's clusters jump to WAITING and its steps never finish: this sender passes every
    request to moto, but answers DescribeCluster/DescribeStep with the next state of a script
    at each poll (like mrjob's mock EMR), and can run a hook when a step completes."""

    def __init__(self, inner: Sender, cluster_states: Optional[List[str]] = None,
                 step_states: Optional[List[str]] = None, cluster_reason: Optional[Dict[str, str]] = None,
                 step_failure: Optional[Dict[str, str]] = None,
                 on_step_done: Optional[Callable[[str, str], None]] = None,
                 run_job_flow_errors: Optional[List[Tuple[str, str]]] = None,
                 results: Optional[Dict[str, bytes]] = None) -> None:
        super().__init__(inner)
        #: ``[]``: moto's own cluster states (only the steps are scripted).
        self.cluster_states = list(["STARTING", "BOOTSTRAPPING", "WAITING"] if cluster_states is None
                                   else cluster_states)
        self.step_states = list(step_states or ["PENDING", "RUNNING", "COMPLETED"])
        self.cluster_reason = cluster_reason
        self.step_failure = step_failure
        self.on_step_done = on_step_done
        #: (code, message) answered to the first RunJobFlow calls, one each, as AWS would.
        self.run_job_flow_errors = list(run_job_flow_errors or [])
        self.run_job_flow_calls = 0
        #: relative path -> bytes: what a pipeline step that COMPLETED wrote under its --output.
        self.results = dict(results or {})
        self.terminated: List[str] = []
        self.polls: Dict[str, int] = {}

    def _next(self, key: str, script: List[str]) -> str:
        n = self.polls.get(key, 0)
        self.polls[key] = n + 1
        return script[min(n, len(script) - 1)]

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        if request.operation == "RunJobFlow":
            self.run_job_flow_calls += 1
            if self.run_job_flow_errors:
                code, message = self.run_job_flow_errors.pop(0)
                error = ClientError({"Error": {"Code": code, "Message": message}}, "RunJobFlow")
                raise translate(error, "emr", "RunJobFlow")
        answer = super().send(request)
        if request.operation == "TerminateJobFlows":
            self.terminated += request.params["JobFlowIds"]
        elif (request.operation == "DescribeCluster" and self.cluster_states
              and request.params["ClusterId"] not in self.terminated):
            answer = copy.deepcopy(answer)
            state = self._next("cluster:" + request.params["ClusterId"], self.cluster_states)
            answer["Cluster"]["Status"]["State"] = state
            if state == "TERMINATED_WITH_ERRORS" and self.cluster_reason:
                answer["Cluster"]["Status"]["StateChangeReason"] = self.cluster_reason
        elif request.operation == "DescribeStep":
            answer = copy.deepcopy(answer)
            state = self._next("step:" + request.params["StepId"], self.step_states)
            answer["Step"]["Status"]["State"] = state
            if state == "FAILED" and self.step_failure:
                answer["Step"]["Status"]["FailureDetails"] = self.step_failure
            if state == "COMPLETED" and self.results:
                self._write_results(answer["Step"].get("Config", {}).get("Args", []))
            if state in ("COMPLETED", "FAILED") and self.on_step_done:
                self.on_step_done(request.params["ClusterId"], request.params["StepId"])
        return answer

    def _write_results(self, args: List[str]) -> None:
        """Where the real step writes: the value after ``--output`` in its own arguments (so a
        change of where submit sends the output cannot go unnoticed)."""
        if "--output" not in args or args.index("--output") + 1 >= len(args):
            return
        bucket, _, prefix = args[args.index("--output") + 1][len("s3://"):].partition("/")
        prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        for path, body in self.results.items():
            super().send(AwsRequest("s3", "PutObject", {"Bucket": bucket, "Key": prefix + path, "Body": body}))
