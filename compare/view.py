"""`python -m compare view [RUN]`: TensorBoard on one run (the most recent by default) or on every
run (--all), on loopback.

TensorBoard runs as a child process in its own session, so stopping it (Ctrl-C, an error, the end
of a screenshot) takes all of it down. The screenshot is made by the system's headless Chromium,
driven by Selenium through the system's chromedriver: nothing is downloaded.
"""
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2

from keras_impl.interrupts import Terminated
from keras_impl.native_logs import ABSL_LINE

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT_S = 90


class TensorBoardServer:
    """`tensorboard --logdir DIR --host 127.0.0.1 --port P` as a context manager. Without a port,
    TensorBoard binds a free one itself (--port 0) and the port is read back from what it prints, so
    no other process can take the port between choosing it and binding it."""

    def __init__(self, logdir, port=None):
        self.logdir, self.requested_port = logdir, port
        self.port, self.process = None, None
        self.started = threading.Event()  # set once TensorBoard has said where it listens
        self.log = collections.deque(maxlen=40)  # its last lines on stderr, for error messages

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir,
                   "--host", "127.0.0.1", "--port", str(self.requested_port or 0)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
        threading.Thread(target=self.read_log, daemon=True).start()
        return self

    def read_log(self):
        """Keep TensorBoard's stderr drained, and note the port from its 'TensorBoard ... at URL' line."""
        for line in self.process.stderr:
            self.log.append(line.rstrip())
            found = re.search(r" at http://127\.0\.0\.1:(\d+)/", line)
            if found and not self.started.is_set():
                self.port = int(found.group(1))
                self.started.set()

    def __exit__(self, *exc):
        self.stop()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def wait_for_runs(self, expected=(), timeout=START_TIMEOUT_S):
        """The runs TensorBoard lists, once it answers and lists every run in `expected`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = [line for line in self.log if not ABSL_LINE.match(line.encode())]
                raise RuntimeError(f"TensorBoard exited: {said[-1] if said else 'without a word'}")
            try:
                if self.started.is_set():
                    runs = self.get("/data/runs")
                    if runs and set(expected) <= set(runs):
                        return runs
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"TensorBoard did not list the runs {sorted(expected)} within {timeout} s")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def browser_available():
    """None when headless Chromium and its driver are installed, else why not."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        return f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -r requirements.txt"
    return None


def chart_url(server_url, tag="epoch_loss"):
    """The Time Series page, drawn as SVG (forceSVG), filtered to one tag, unsmoothed."""
    return f"{server_url}/?forceSVG=true&smoothing=0&tagFilter={urllib.parse.quote(tag)}#timeseries"


def screenshot(url, path, runs, tag="epoch_loss", timeout=START_TIMEOUT_S, profile=None):
    """Open `url` in headless Chromium, wait until the `tag` chart has drawn a line for every run in
    `runs` and its legend (the card's run table) names them all, then save a PNG at `path`.
    `profile`: an empty folder for the browser's profile (default: a new temporary one). Returns
    the legend's text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    profile = profile or tempfile.mkdtemp(prefix="compare-chromium-")
    driver = start_browser(profile)
    try:
        driver.get(url)
        drawn = chart_drawn(tag, runs)
        try:
            WebDriverWait(driver, timeout, poll_frequency=0.5).until(drawn)
            enlarge_the_chart(driver)
            legend = WebDriverWait(driver, timeout, poll_frequency=0.5).until(drawn)
        except TimeoutException:
            driver.save_screenshot(path)
            raise TimeoutError(f"the {tag} chart did not show lines for {', '.join(runs)} within {timeout} s "
                               f"(see {path})") from None
        time.sleep(1.5)  # let the redrawn lines settle before the picture
        if not driver.save_screenshot(path):
            raise RuntimeError(f"the browser could not write the screenshot to {path}")
        return legend
    finally:
        stop_browser(driver, profile)


def start_browser(profile):
    """Headless Chromium through the system's chromedriver, with its own profile folder and no
    background traffic (this machine's network is closed)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1400,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def stop_browser(driver, profile):
    """Quit, and wait (bounded) until every browser process is gone: driver.quit() returns before
    Chromium's children exit. One that will not go is killed. Then the profile is removed."""
    driver.quit()
    for pid in wait_until_gone(profile):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until_gone(profile, timeout=5)
    shutil.rmtree(profile, ignore_errors=True)


def chart_drawn(tag, runs):
    """A WebDriverWait condition: the `tag` card's legend text once it has drawn every run."""
    from selenium.webdriver.common.by import By

    def drawn(driver):
        for card in driver.find_elements(By.CSS_SELECTOR, "scalar-card"):
            legend = card.text
            # a series is drawn as a path, or as a circle while it has a single point (a 1-epoch run)
            marks = card.find_elements(By.CSS_SELECTOR, ".series-view svg path, .series-view svg circle")
            if legend.startswith(tag) and len(marks) >= len(runs) and all(r in legend for r in runs):
                return legend
        return False

    return drawn


def enlarge_the_chart(driver):
    """Show the whole curves, large: scale the y axis to every point (TensorBoard leaves outliers out by
    default, which cuts off the first epochs' losses), close the settings pane, show the (single) chart
    card at full size with a logarithmic y axis (a loss falls by orders of magnitude), and fit its axes
    to the data. The controls are found by TensorBoard 2.21's labels; where one is missing or will not
    take a click, the picture is just less fitted."""
    from selenium.webdriver.common.by import By

    outliers = "//mat-checkbox[.//label[text()='Ignore outliers in chart scaling']]"
    for box in driver.find_elements(By.XPATH, outliers)[:1]:
        if "checkbox-checked" in (box.get_attribute("class") or ""):
            click(driver, By.XPATH, outliers + "//label")
    for label in ("Close side pane", "Toggle full size mode", "More line chart options"):
        click(driver, By.CSS_SELECTOR, f"button[aria-label='{label}']")
    click(driver, By.CSS_SELECTOR, "[aria-label='Toggle Y-axis log scale on line chart']")
    click(driver, By.CSS_SELECTOR, "button[aria-label='Fit line chart domains to data']")
    move_the_pointer_away(driver)
    time.sleep(1)


def move_the_pointer_away(driver):
    """Rest the pointer on the page's header, so that no tooltip covers the chart."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    for header in driver.find_elements(By.CSS_SELECTOR, "mat-toolbar, .mat-toolbar")[:1]:
        try:
            ActionChains(driver).move_to_element(header).perform()
        except WebDriverException:
            pass


def click(driver, by, selector):
    """Click the first element `selector` finds, if any and if it takes the click."""
    from selenium.common.exceptions import WebDriverException

    for element in driver.find_elements(by, selector)[:1]:
        try:
            if element.is_enabled():
                element.click()
                time.sleep(0.5)
        except WebDriverException:
            pass


def holds_epoch_loss(path, tag="epoch_loss"):
    """Whether an event file holds a `tag` summary among the records it can be read to (TFRecord: 8
    bytes of length, 4 of its checksum, the data, 4 more): an empty, cut or overwritten one may not,
    and TensorBoard would then draw no line for its run."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            while len(header := f.read(12)) == 12:
                length = int.from_bytes(header[:8], "little")
                if length > size - f.tell():
                    return False
                event = event_pb2.Event.FromString(f.read(length))
                f.read(4)
                if any(value.tag == tag for value in event.summary.value):
                    return True
    except (OSError, DecodeError):
        return False
    return False


def training_folders(folder):
    """The twins' training folders under `folder` (scratch/train, keras/train) that hold event files,
    as TensorBoard names runs: {relative path: [event files]}."""
    found = {}
    for root, _, files in os.walk(folder):
        events = [os.path.join(root, f) for f in files if f.startswith("events.out.tfevents")]
        if events and root.endswith(("scratch/train", "keras/train")):
            found[os.path.relpath(root, folder)] = events
    return found


def comparison_runs(folder):
    """The twins' training runs under `folder` whose event files hold an epoch_loss, sorted."""
    return sorted(run for run, events in training_folders(folder).items() if any(map(holds_epoch_loss, events)))


def latest_run(logdir):
    """The comparison run folder under `logdir` (one with the scratch twin's logs) changed most recently
    (a run's report is written last); a `python -m keras_impl` run, Keras's alone, is viewed by its name."""
    runs = [e for e in os.scandir(logdir)
            if e.is_dir() and any(run.endswith("scratch/train") for run in comparison_runs(e.path))]
    if not runs:
        raise ValueError(f"{logdir} holds no comparison runs: run `python -m compare --logdir {logdir}` first (a "
                         "run of python -m keras_impl alone is viewed by its name: python -m compare view NAME)")
    return max(runs, key=lambda e: e.stat().st_mtime).path


def view_folder(logdir, run=None, every_run=False):
    """What `view` serves: logdir/run, every run under logdir, or the most recent one."""
    if run and every_run:
        raise ValueError("give a run or --all, not both")
    if not os.path.isdir(logdir):
        raise ValueError(f"no run folder {logdir}: run `python -m compare` first, or pass --logdir")
    if every_run:
        return logdir
    return os.path.join(logdir, run) if run else latest_run(logdir)


def processes_using(text):
    """Process ids whose command line contains `text`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return [p for p in found if p != os.getpid()]


def wait_until_gone(text, timeout=15):
    """Wait until no process's command line contains `text`; returns those still there at the
    timeout (driver.quit() returns before Chromium's child processes have exited)."""
    deadline = time.monotonic() + timeout
    while (left := processes_using(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def check_screenshot_path(path):
    """ValueError unless the browser and a PNG file at `path` can be had."""
    why = browser_available()
    if why:
        raise ValueError(f"cannot take a screenshot: {why}")
    if os.path.isdir(path):
        raise ValueError(f"--screenshot {path} is a folder: give a file name, like {os.path.join(path, 'chart.png')}")
    if not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        raise ValueError(f"cannot write {path}: choose a folder you can write to")


def check_port_free(port):
    """ValueError if something already listens on 127.0.0.1:port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise ValueError(f"port {port} on 127.0.0.1 is taken ({e.strerror}): choose another --port, "
                             "or leave it out to take a free one") from None


def view(folder, port=None, screenshot_path=None, print_=print):
    """Serve `folder` with TensorBoard; with `screenshot_path`, save the loss chart and return."""
    if not os.path.isdir(folder):
        raise ValueError(f"no run folder {folder}: run `python -m compare` first, or pass an existing run")
    runs = comparison_runs(folder)
    if not runs:
        raise ValueError(f"{folder} holds no comparison runs (no scratch/train or keras/train event file with an "
                         "epoch_loss in it: empty, cut or damaged ones are left out)")
    for left_out in sorted(set(training_folders(folder)) - set(runs)):
        print(f"warning: {left_out}: its event files hold no epoch_loss (cut short before the first epoch's end, "
              "or damaged): left out of the chart", file=sys.stderr)
    if screenshot_path:
        check_screenshot_path(screenshot_path)
    if port is not None:
        check_port_free(port)
    with TensorBoardServer(folder, port) as server:
        server.wait_for_runs(runs)
        print_(f"TensorBoard: {server.url}/#timeseries ({len(runs)} training runs from {folder})")
        sys.stdout.flush()
        if screenshot_path:
            screenshot(chart_url(server.url), screenshot_path, runs)
            print_(f"Screenshot of the epoch_loss chart: {screenshot_path}")
            return
        serve(server, print_)


def serve(server, print_=print):
    """Wait until TensorBoard exits or Ctrl-C stops it (then return; the caller stops the server).
    SIGTERM (compare.interrupts) is raised on, for exit code 143."""
    try:
        print_("Press Ctrl-C to stop.")
        sys.stdout.flush()
        server.process.wait()
    except KeyboardInterrupt as e:
        print_("\nStopping TensorBoard.")
        if isinstance(e, Terminated):
            raise
