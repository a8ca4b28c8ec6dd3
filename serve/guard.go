package serve

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// WithAllowedHosts adds host names (or addresses) that requests may carry in
// their Host header besides the addresses the server listens on: the name a
// reverse proxy, a LAN DNS entry or /etc/hosts gives the machine. "*" allows
// any Host, which gives up the protection against DNS rebinding.
func WithAllowedHosts(names ...string) Option {
	return func(s *Server) error {
		for _, n := range names {
			h, err := normalizeAllowedHost(n)
			if err != nil {
				return err
			}
			s.allowedHosts = append(s.allowedHosts, h)
		}
		return nil
	}
}

// CheckAllowedHosts reports the first name WithAllowedHosts would refuse, so
// a command can check its flags before opening the camera and the model.
func CheckAllowedHosts(names ...string) error {
	for _, n := range names {
		if _, err := normalizeAllowedHost(n); err != nil {
			return err
		}
	}
	return nil
}

// normalizeAllowedHost checks one --allowed-host value and returns it in the
// form hostPolicy compares: lower case, no brackets, no trailing dot.
func normalizeAllowedHost(n string) (string, error) {
	if n == "*" {
		return n, nil
	}
	bad := n == "" || strings.ContainsAny(n, "/@ \t?#") || strings.Contains(n, "://")
	if !bad {
		if _, _, err := net.SplitHostPort(n); err == nil {
			bad = true // a port
		} else if strings.Count(n, ":") == 1 {
			bad = true // "host:" or similar
		}
	}
	if bad {
		return "", fmt.Errorf("serve: allowed host %q: give a host name or address without scheme, port or path, e.g. --allowed-host rpscam.lan", n)
	}
	return canonicalHost(n), nil
}

// canonicalHost lower-cases a host name and strips IPv6 brackets and a
// trailing dot, so "LOCALHOST.", "localhost" and "[::1]" compare as meant.
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// hostPolicy is what the Host header of a request may name: the addresses
// the server listens on and the allowed names. A web page that rebinds its
// own name to 127.0.0.1 makes the browser send that name as Host, so such a
// request is refused before any handler sees it (DNS rebinding); a request to
// an IP address always names an address of the machine.
type hostPolicy struct {
	any       bool
	names     []string // canonical host names and addresses
	loopback  bool     // any loopback address is allowed
	allIfaces bool     // bound to all interfaces: every address of this machine is allowed
	// ifaceAddrs lists this machine's addresses (net.InterfaceAddrs); it is
	// asked only for an address not already known, so interfaces that come
	// up after start are found.
	ifaceAddrs func() ([]net.Addr, error)
	found      sync.Map // addresses ifaceAddrs confirmed, so it is asked once per address
}

// newHostPolicy allows the names of listen (nil: a loopback listener) plus
// extra (canonical, from WithAllowedHosts).
func newHostPolicy(listen net.Addr, extra []string) *hostPolicy {
	p := &hostPolicy{ifaceAddrs: net.InterfaceAddrs}
	for _, n := range extra {
		if n == "*" {
			p.any = true
		}
		p.names = append(p.names, n)
	}
	var ip net.IP
	if a, ok := listen.(*net.TCPAddr); ok {
		ip = a.IP
	}
	switch {
	case listen == nil || ip == nil || ip.IsUnspecified():
		// A nil listener is Handler's loopback assumption; a nil or
		// unspecified IP is a listener on every interface.
		p.loopback = true
		p.allIfaces = listen != nil
	case ip.IsLoopback():
		p.loopback = true
	default:
		p.names = append(p.names, canonicalHost(ip.String()))
	}
	if p.loopback {
		p.names = append(p.names, "localhost")
	}
	return p
}

// allows reports whether host (a Host header, with or without port) is one
// the server answers to.
func (p *hostPolicy) allows(host string) bool {
	if p.any {
		return true
	}
	h := canonicalHost(hostOnly(host))
	if h == "" {
		return false
	}
	if slices.Contains(p.names, h) {
		return true
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return false
	}
	if p.loopback && ip.IsLoopback() {
		return true
	}
	if !p.allIfaces {
		return false
	}
	if _, ok := p.found.Load(h); ok {
		return true
	}
	addrs, err := p.ifaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			p.found.Store(h, true)
			return true
		}
	}
	return false
}

// describe lists the allowed names for the refusal's message.
func (p *hostPolicy) describe() string {
	s := strings.Join(p.names, ", ")
	if p.loopback {
		s += ", loopback addresses"
	}
	if p.allIfaces {
		s += ", this machine's addresses"
	}
	return strings.TrimPrefix(s, ", ")
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// stateChanging reports whether method changes state on this server.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// errCrossOrigin explains every cross-origin refusal.
var errCrossOrigin = errors.New("cross-origin request refused: this server's POST endpoints accept requests from its own page only")

// checkOrigin refuses a state-changing request that a browser sent from
// another origin: its Origin header (when present) must name the request's
// own Host, and its Sec-Fetch-Site (when present) must say same-origin.
// Clients that send neither (curl, scripts) pass: they are not a browser
// that a foreign page can steer.
func checkOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("%w (Sec-Fetch-Site: %s)", errCrossOrigin, site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w (Origin %q)", errCrossOrigin, origin)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if u.Scheme != scheme || withDefaultPort(u.Host, scheme) != withDefaultPort(r.Host, scheme) {
		return fmt.Errorf("%w (Origin %s, Host %s)", errCrossOrigin, origin, r.Host)
	}
	return nil
}

// withDefaultPort lower-cases hostport and adds scheme's default port when
// it has none, so "http://localhost" and Host "localhost:80" compare equal.
func withDefaultPort(hostport, scheme string) string {
	hostport = strings.ToLower(hostport)
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(canonicalHost(hostport), port)
}

// guard wraps next with the Host check on every request and the Origin
// check on state-changing ones; a refusal is a 403 and one log line.
func (s *Server) guard(p *hostPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var refusal string
		if !p.allows(r.Host) {
			refusal = fmt.Sprintf("host %q is not one this server answers to (%s): open it by one of those, or start it with --allowed-host %s", r.Host, p.describe(), hostOrPlaceholder(r.Host))
		} else if stateChanging(r.Method) {
			if err := checkOrigin(r); err != nil {
				refusal = err.Error()
			}
		}
		if refusal == "" {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Warn("refused request", "method", r.Method, "path", r.URL.Path, "host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "why", refusal)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSONError(w, http.StatusForbidden, refusal)
			return
		}
		http.Error(w, refusal, http.StatusForbidden)
	})
}

func hostOrPlaceholder(host string) string {
	if h := canonicalHost(hostOnly(host)); h != "" && !strings.ContainsAny(h, " \t\"") {
		return h
	}
	return "NAME"
}
