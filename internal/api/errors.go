// Package api is dcimd's HTTP API: DCImanager 6 compatible routes under
// /api/dci/v3, /api/ip/v3 and /auth/v4 (each also without /api), in the
// exact shapes that billing systems read.
package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
)

// Error codes in the ISPsystem error body. 3001 is what DCImanager clients
// know for an expired session; the others follow the HTTP status.
const (
	codeUnauthorized = 3001
)

var kindStatus = map[fault.Kind]int{
	fault.KindInvalid:      http.StatusBadRequest,
	fault.KindUnauthorized: http.StatusUnauthorized,
	fault.KindForbidden:    http.StatusForbidden,
	fault.KindNotFound:     http.StatusNotFound,
	fault.KindConflict:     http.StatusConflict,
	fault.KindBusy:         http.StatusConflict,
	fault.KindRateLimited:  http.StatusTooManyRequests,
	fault.KindUnavailable:  http.StatusServiceUnavailable,
	fault.KindTooLarge:     http.StatusRequestEntityTooLarge,
}

// fail answers err in the error format; this is the one place that maps
// errors to HTTP. Internal errors are logged with the request id and never
// shown.
func fail(c *gin.Context, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var value any
	if fe, ok := fault.As(err); ok && fe.Kind != fault.KindInternal {
		status, msg = kindStatus[fe.Kind], fe.Msg
		if fe.Value != nil {
			value = fe.Value
		} else if fe.Field != "" {
			value = gin.H{"field": fe.Field}
		}
	} else if errors.Is(err, errBodyTooLarge) {
		status, msg = http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB"
	} else {
		logger(c).Error("request failed", "err", err)
	}
	code := status
	if status == http.StatusUnauthorized {
		code = codeUnauthorized
	}
	c.AbortWithStatusJSON(status, gin.H{"error": gin.H{"code": code, "msg": msg, "value": value}})
}

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
