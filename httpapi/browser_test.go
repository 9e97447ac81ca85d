package httpapi_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshot = flag.String("screenshot", "", "save a screenshot of the status page, as TestStatusPageInBrowser shows it, to this PNG file")

// chromium returns the path of Debian's chromium. The test skips without
// it, unless CONSOLIDATE_REQUIRE_CHROMIUM=1 (as in CI) makes that a
// failure.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CONSOLIDATE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("chromium is not installed and CONSOLIDATE_REQUIRE_CHROMIUM=1: %v", err)
		}
		t.Skip("chromium is not installed (apt-get install chromium); CONSOLIDATE_REQUIRE_CHROMIUM=1 makes this a failure")
	}
	return path
}

// An operator logs in to the status page in a real browser, finds a dead
// letter, clicks Requeue, and sees the transfer settle.
func TestStatusPageInBrowser(t *testing.T) {
	path := chromium(t)
	s, bc := parkingServer(t, nil)
	acct := s.account("5" + ether)
	for _, amount := range []string{`"100000000000000000"`, `"250000000000000000"`, `"50000000000000000"`} {
		r := s.do("POST", "/transactions", transfer(acct, bob, amount)).want(t, 201, "")
		s.sim.Commit()
		s.settle(int64(r.body["id"].(float64)))
	}
	s.work()
	id := s.park(bc, acct)
	bc.blind.Store(false)

	alloc, cancel := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}

	row := "parked-" + itoa(id)
	do(
		chromedp.EmulateViewport(1280, 1000),
		chromedp.Navigate(s.url+"/operator/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID(row)),
	)
	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do(
		chromedp.Click(chromedp.ID("requeue-"+itoa(id))),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	if err != nil || flash == "" {
		t.Fatalf("no message after the click: %q %v", flash, err)
	}

	// Reload, as an operator would, until the transfer has settled and
	// left the dead letters.
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.sim.Commit()
		do(chromedp.Navigate(s.url+"/operator/"), chromedp.WaitVisible(chromedp.ID("recent")))
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#recent-"+itoa(id)+" .status")))
		if err != nil {
			t.Fatal(err)
		}
		parked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("`+row+`") !== null`))
		if err != nil {
			t.Fatal(err)
		}
		if status == "SUCCESSFUL" && !parked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after requeue the page shows %q, dead letter listed: %v", status, parked)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
