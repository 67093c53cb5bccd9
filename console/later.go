package console

import (
	"net/http"

	"github.com/propops/propsec/session"
)

func (h *Handler) alertsPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.notFound(w, r)
}
func (h *Handler) changeAlerts(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.notFound(w, r)
}
func (h *Handler) alertPage(w http.ResponseWriter, r *http.Request, a session.Auth) { h.notFound(w, r) }
func (h *Handler) checksPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.notFound(w, r)
}
func (h *Handler) runCheck(w http.ResponseWriter, r *http.Request, a session.Auth) { h.notFound(w, r) }
func (h *Handler) progress(w http.ResponseWriter, r *http.Request)                 { h.notFound(w, r) }
func (h *Handler) beginDeployment(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.notFound(w, r)
}
func (h *Handler) endDeployment(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.notFound(w, r)
}
func (h *Handler) reportPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.notFound(w, r)
}
func (h *Handler) reportCSV(w http.ResponseWriter, r *http.Request, a session.Auth) { h.notFound(w, r) }
