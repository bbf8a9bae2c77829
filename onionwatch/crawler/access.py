"""Downloader middleware that gets past a market's walls, or stops and asks the operator.

Every response is classified (:mod:`onionwatch.crawler.pagestate`) before the spider sees it; the
state is counted (``page/state/<state>``) and handled:

* DDoS queue: wait what the page asks (without blocking the reactor) and ask again, with the same
  isolation key: the queue ties its pass to the circuit, so a NEWNYM would only restart the wait.
* maintenance: wait longer, a few times, then give up on that page (counted).
* login wall: log in with the market's account (a ``SecretStr`` from settings), one login at a
  time per market, then ask again for the page that hit the wall, so no listing is lost when a
  session expires mid-crawl. A login that needs a captcha cannot be done by the crawler.
* captcha / anti-phishing / ban: the market needs an operator. The captcha image is fetched (the
  one image the crawler may fetch), saved next to the market's session, one clear log line says
  what to run, and the market's crawl stops with finish reason ``operator_needed``. The page
  request that met the wall goes back to the scheduler ("parked"): a crawl with a job directory
  saves it and asks for it again when resumed after the operator's answer.
* not found: dropped, counted.

The middleware sits above MetaRefreshMiddleware (580) so a queue page's meta refresh is honoured
with its delay instead of being followed at once, and below RedirectMiddleware (600) and
CookiesMiddleware (700), so it sees the login page a redirect led to and the cookies are already
in the jar.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import FormRequest
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import DeferredLock
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from onionwatch.crawler.middlewares import is_text_type
from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pagestate import PageState, Verdict, classify
from onionwatch.crawler.sessions import Account, SessionStore, login_form, session_established
from onionwatch.errors import PageError
from onionwatch.settings import TorSettings

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: on requests this middleware sends itself (login, captcha image): passed through unclassified
AUX_META_KEY = "onionwatch_access_aux"
#: how many walls one page request has met (bounded by ONIONWATCH_ACCESS_MAX_RETRIES)
WALLS_META_KEY = "onionwatch_walls"
#: the login generation a request was sent under (a wall met by an older request needs no new login)
GENERATION_META_KEY = "onionwatch_login_generation"
OPERATOR_NEEDED = "operator_needed"
_REDIRECT_KEYS = ("redirect_urls", "redirect_reasons", "redirect_times", "redirect_ttl")


class AccessControlMiddleware:
    def __init__(
        self,
        crawler: Crawler,
        stats: StatsCollector,
        *,
        accounts: dict[str, Account],
        store: SessionStore | None,
        max_retries: int = 5,
        max_wait_s: float = 120.0,
        default_wait_s: float = 5.0,
        maintenance_wait_s: float = 30.0,
        tor_control: TorSettings | None = None,
        max_newnyms: int = 1,
    ) -> None:
        self.crawler = crawler
        self.tor_control = tor_control
        self.max_newnyms = max_newnyms
        self.newnyms = 0
        self.stats = stats
        self.accounts = accounts
        self.store = store
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self.default_wait_s = default_wait_s
        self.maintenance_wait_s = maintenance_wait_s
        self.generation = 0
        self.operator_needed: str | None = None
        self._login_lock = DeferredLock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AccessControlMiddleware:
        settings = crawler.settings
        if not settings.getbool("ONIONWATCH_ACCESS_ENABLED", True):
            raise NotConfigured("page-state handling disabled (ONIONWATCH_ACCESS_ENABLED=False)")
        assert crawler.stats is not None
        raw = settings.getdict("ONIONWATCH_LOGINS")
        accounts = {market: Account.model_validate(value) for market, value in raw.items()}
        directory = settings.get("ONIONWATCH_SESSIONS_DIR")
        return cls(
            crawler,
            crawler.stats,
            accounts=accounts,
            store=SessionStore(Path(directory)) if directory else None,
            max_retries=settings.getint("ONIONWATCH_ACCESS_MAX_RETRIES", 5),
            max_wait_s=settings.getfloat("ONIONWATCH_ACCESS_MAX_WAIT", 120.0),
            default_wait_s=settings.getfloat("ONIONWATCH_ACCESS_DEFAULT_WAIT", 5.0),
            maintenance_wait_s=settings.getfloat("ONIONWATCH_ACCESS_MAINTENANCE_WAIT", 30.0),
            tor_control=settings.get("ONIONWATCH_TOR_CONTROL"),
            max_newnyms=settings.getint("ONIONWATCH_MAX_NEWNYMS", 1),
        )

    def process_request(self, request: Request) -> None:
        request.meta.setdefault(GENERATION_META_KEY, self.generation)

    async def process_response(self, request: Request, response: Response) -> Response | Request:
        if request.meta.get(AUX_META_KEY) or not is_text_type(response.headers.get(b"Content-Type")):
            return response
        market = self._market(request)
        content_type = response.headers.get(b"Content-Type")
        page = Page(
            url=response.url,
            body=response.body,
            market=market,
            content_type=content_type.decode("latin-1") if content_type else None,
        )
        verdict = classify(page, status=response.status, engine=request.meta.get("engine"))
        self.stats.inc_value(f"page/state/{verdict.state}")
        if verdict.ok:
            return response
        if verdict.state is PageState.NOT_FOUND:
            raise IgnoreRequest(f"not found: {response.url}")
        if self.operator_needed is not None:
            return self._park(request)
        walls = int(request.meta.get(WALLS_META_KEY, 0)) + 1
        if walls > self.max_retries:
            self.stats.inc_value(f"page/gave_up/{verdict.state}")
            raise IgnoreRequest(
                f"gave up on {_original_url(request)} after {walls - 1} {verdict.state} pages"
            )
        if verdict.state in (PageState.DDOS, PageState.MAINTENANCE):
            return await self._wait_and_retry(request, verdict, walls)
        if verdict.state is PageState.LOGIN:
            return await self._login_and_retry(request, page, verdict, walls)
        if verdict.state is PageState.BANNED and await self._new_identity(request):
            return self._again(request, walls)
        await self._ask_operator(request, page, verdict)
        return self._park(request)

    # -- waits ------------------------------------------------------------------------------------

    async def _wait_and_retry(self, request: Request, verdict: Verdict, walls: int) -> Request:
        default = self.default_wait_s if verdict.state is PageState.DDOS else self.maintenance_wait_s
        wait = min(self.max_wait_s, max(0.5, verdict.wait_s if verdict.wait_s is not None else default))
        logger.info(
            "%s: %s page, waiting %.0f s before asking again", self._market(request), verdict.state, wait
        )
        # Non-blocking: only this request waits; the reactor keeps serving the others. (Imported
        # here: importing the reactor at module level would install one before Scrapy chooses.)
        from twisted.internet import reactor

        await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        return self._again(request, walls)

    # -- ban --------------------------------------------------------------------------------------

    async def _new_identity(self, request: Request) -> bool:
        """A ban is the one reason to change circuits (NEWNYM, at most ``max_newnyms`` per crawl,
        within Tor's rate limit); without a Tor control port the operator decides."""
        if self.tor_control is None or self.newnyms >= self.max_newnyms:
            return False
        self.newnyms += 1
        from onionwatch.crawler.torctl import request_new_identity

        sent = await maybe_deferred_to_future(deferToThread(request_new_identity, self.tor_control))
        self.stats.inc_value("tor/newnym" if sent else "tor/newnym_refused")
        logger.warning(
            "%s: ban page at %s; %s",
            self._market(request),
            request.url,
            "new Tor identity (NEWNYM), asking again" if sent else "Tor refused a new identity",
        )
        return bool(sent)

    # -- login ------------------------------------------------------------------------------------

    async def _login_and_retry(self, request: Request, page: Page, verdict: Verdict, walls: int) -> Request:
        market = self._market(request)
        sent_under = int(request.meta.get(GENERATION_META_KEY, -1))
        await maybe_deferred_to_future(self._login_lock.acquire())
        try:
            if sent_under < self.generation:
                # Another request met the wall first and logged in since this one was sent.
                return self._again(request, walls)
            account = self.accounts.get(market)
            try:
                form = login_form(page)
            except PageError:
                form = None
            if form is not None and form.captcha_field is not None:
                await self._ask_operator(request, page, verdict)
                return self._park(request)
            if account is None or form is None:
                self.stats.inc_value("session/login/no_account" if form else "session/login/no_form")
                logger.error(
                    "%s: login wall at %s and %s",
                    market,
                    page.url,
                    "no account configured for this market" if form else "no login form found",
                )
                self._stop(market, "login")
                return self._park(request)
            if not await self._submit_login(request, form.action, form.method, form.fill(account)):
                self.stats.inc_value("session/login/failed")
                logger.error("%s: login as %s failed (still at the login wall)", market, account.username)
                self._stop(market, "login")
                return self._park(request)
            self.generation += 1
            self.stats.inc_value("session/login/ok")
            logger.info("%s: logged in as %s", market, account.username)
            self.crawler.signals.send_catch_log(signal=session_established)
            if self.store is not None:
                self.store.update(market, login_url=page.url, operator_needed=None)
            return self._again(request, walls)
        finally:
            self._login_lock.release()

    async def _submit_login(self, request: Request, action: str, method: str, data: dict[str, str]) -> bool:
        login = FormRequest(
            action,
            method=method,
            formdata=data,
            meta=self._aux_meta(request),
            dont_filter=True,
        )
        assert self.crawler.engine is not None
        response = await self.crawler.engine.download_async(login)
        content_type = response.headers.get(b"Content-Type")
        after = Page(
            url=response.url,
            body=response.body,
            market=self._market(request),
            content_type=content_type.decode("latin-1") if content_type else None,
        )
        return classify(after, status=response.status, engine=request.meta.get("engine")).state not in (
            PageState.LOGIN,
            PageState.CAPTCHA,
        )

    # -- operator ---------------------------------------------------------------------------------

    async def _ask_operator(self, request: Request, page: Page, verdict: Verdict) -> None:
        market = self._market(request)
        if self.operator_needed is not None:
            return
        self.operator_needed = str(verdict.state)
        self.stats.inc_value(f"session/operator_needed/{verdict.state}")
        self._stop(market, OPERATOR_NEEDED)
        saved = None
        try:
            if verdict.captcha_image and self.store is not None:
                # The one image the crawler fetches: the operator has to see it to answer it.
                image = Request(verdict.captcha_image, meta={**self._aux_meta(request), "allow_binary": True})
                assert self.crawler.engine is not None
                response = await self.crawler.engine.download_async(image)
                if response.status == 200 and response.body:
                    saved = self.store.save_captcha(market, response.body)
        finally:
            # Said even when the image could not be fetched: the operator must hear of the wall.
            if self.store is not None:
                self.store.update(market, login_url=page.url, operator_needed=str(verdict.state))
            logger.warning(
                "%s needs an operator: %s page at %s; %srun `onionwatch session %s%s`, then crawl again",
                market,
                verdict.state,
                page.url,
                f"captcha image saved to {saved}; " if saved else "",
                market,
                " --answer <code>" if saved else " --cookie 'NAME=VALUE'",
            )

    def _stop(self, market: str, reason: str) -> None:
        if self.operator_needed is None:
            self.operator_needed = reason
        assert self.crawler.engine is not None
        # Not awaited: closing waits for in-flight downloads, this one among them.
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=OPERATOR_NEEDED))

    # -- helpers ----------------------------------------------------------------------------------

    def _market(self, request: Request) -> str:
        spider = self.crawler.spider
        return str(request.meta.get("market") or getattr(spider, "market", None) or "unknown")

    @staticmethod
    def _aux_meta(request: Request) -> dict[str, Any]:
        keep = ("tor_isolation", "market", "engine", "download_slot")
        return {AUX_META_KEY: True, **{k: request.meta[k] for k in keep if k in request.meta}}

    def _park(self, request: Request) -> Request:
        """The page request back to the scheduler of a closing crawl: with a job directory Scrapy
        saves it, and the crawl resumed after the operator's answer asks for it again."""
        self.stats.inc_value("page/parked")
        return self._again(request, int(request.meta.get(WALLS_META_KEY, 0)))

    @staticmethod
    def _again(request: Request, walls: int) -> Request:
        """The page request that met the wall, once more: same callback, same isolation key."""
        meta = {k: v for k, v in request.meta.items() if k not in (*_REDIRECT_KEYS, GENERATION_META_KEY)}
        meta[WALLS_META_KEY] = walls
        return request.replace(url=_original_url(request), meta=meta, dont_filter=True)


def _original_url(request: Request) -> str:
    urls = request.meta.get("redirect_urls")
    return str(urls[0]) if urls else request.url
