package consolidate

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names; docs/metrics.md describes the spans.
const (
	spanSubmit      = "consolidate.submit"
	spanStoreSubmit = "consolidate.store.submit"
	spanSign        = "consolidate.sign"
	spanBroadcast   = "consolidate.broadcast"
	spanReconcile   = "consolidate.reconcile"
	spanRelay       = "consolidate.relay"
)

// endSpan records err on span, marks the span failed if failed is set,
// and ends it. A refusal of the caller's request (insufficient funds, bad
// input) is recorded but is no failure of the Service.
func endSpan(span trace.Span, err error, failed bool) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		if failed {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

// submitDone records a Submit in the metrics, annotates its span and ends
// it. Spans may name the account and transaction; metrics never do.
func (s *Service) submitDone(ctx context.Context, span trace.Span, req SubmitRequest, tx Transaction, o submitOutcome, err error, d time.Duration) {
	s.m.submitted(ctx, o, d)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("consolidate.outcome", o.String()),
			attribute.Int64("consolidate.account.id", req.AccountID),
		)
		if tx.ID != 0 {
			span.SetAttributes(attribute.Int64("consolidate.transaction.id", tx.ID), attribute.Int64("consolidate.nonce", int64(tx.Nonce)))
		}
	}
	endSpan(span, err, o.failed())
}

// endPass records a reconcile pass's checks on its span and in the
// metrics, and ends the span. The first error of the pass stands for the
// others, which the worker logs.
func (s *Service) endPass(ctx context.Context, span trace.Span, cs []check) {
	s.m.checked(ctx, cs)
	if !span.IsRecording() {
		span.End()
		return
	}
	var first error
	failed := 0
	for i := range cs {
		if cs[i].err != nil {
			failed++
			if first == nil {
				first = cs[i].err
			}
		}
	}
	span.SetAttributes(attribute.Int("consolidate.checks", len(cs)), attribute.Int("consolidate.checks.failed", failed))
	if first != nil {
		span.SetStatus(codes.Error, strconv.Itoa(failed)+" of "+strconv.Itoa(len(cs))+" checks failed")
		span.RecordError(first)
	}
	span.End()
}

// relayDone records a relay round in the metrics and on its span, and
// ends the span.
func (s *Service) relayDone(ctx context.Context, span trace.Span, n int, err error) {
	s.m.relayedEvents(ctx, n)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("consolidate.events", n))
	}
	endSpan(span, err, true)
}
