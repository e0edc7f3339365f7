"""The client side of the tasks extension (``io.modelcontextprotocol/tasks``) for the official client.

``Client(..., extensions=[TasksClient()])`` declares the extension on every request of the 2026 wire
and resolves a task answer of ``tools/call`` the way a client must: poll ``tasks/get`` until the task
ends, then return its result. Each answer (the task, every poll) is kept in ``seen`` as its wire
JSON, so a test can read the whole exchange; ``poll`` is the test's own pace (the server's
``pollIntervalMs`` is a suggestion). ``request`` sends any of the three methods by hand.
"""
from __future__ import annotations

from typing import Any, Literal

import anyio
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.types import CallToolResult
from mcp_types import Request, RequestParams, Result
from pydantic import ConfigDict, Field

TASKS = "io.modelcontextprotocol/tasks"


class TaskAnswer(Result):
    """A tools/call answered with a task (``resultType: "task"``)."""
    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str


class TaskState(Result):
    """What tasks/get, tasks/cancel and tasks/update answer: kept whole, as sent."""
    model_config = ConfigDict(extra="allow")


class TaskParams(RequestParams):
    model_config = ConfigDict(extra="allow")
    task_id: str = Field(alias="taskId")


class TaskRequest(Request[TaskParams, str]):
    name_param = "taskId"  # SEP-2663: a tasks/* request names its task in Mcp-Name over HTTP


class TasksClient(ClientExtension):
    identifier = TASKS

    def __init__(self, poll: float = 0.1, resolve: bool = True) -> None:
        self.poll = poll
        self.resolve = resolve  # False: the call returns the task itself (the test polls by hand)
        self.seen: list[dict] = []

    def claims(self):
        return [ResultClaim(result_type="task", model=TaskAnswer, resolve=self._resolve)]

    async def _resolve(self, task: TaskAnswer, ctx: ClaimContext) -> CallToolResult:
        self.seen.append(task.model_dump(by_alias=True, mode="json", exclude_none=True))
        if not self.resolve:
            return CallToolResult(content=[], structured_content={"task": self.seen[-1]})
        with anyio.fail_after(120):
            while True:
                state = await request(ctx.session, "tasks/get", task.task_id)
                self.seen.append(state)
                if state["status"] == "completed":
                    return CallToolResult.model_validate(state["result"])
                if state["status"] != "working":
                    return CallToolResult(content=[], is_error=True, structured_content={"task": state})
                await anyio.sleep(self.poll)


async def request(session, method: str, task_id: str, **extra: Any) -> dict:
    """One of tasks/get, tasks/cancel, tasks/update, through the client's session; its answer as sent."""
    params = TaskParams.model_validate({"taskId": task_id, **extra})
    answer = await session.send_request(TaskRequest(method=method, params=params), TaskState)
    return answer.model_dump(by_alias=True, mode="json", exclude_none=True)
