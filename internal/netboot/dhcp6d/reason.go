package dhcp6d

// Reason says what the handler did with a packet.
type Reason int

// Outcomes. Every packet gets exactly one.
const (
	Advertised Reason = iota // ADVERTISE sent
	Replied                  // REPLY to SOLICIT (rapid commit), REQUEST, RENEW, REBIND or CONFIRM sent
	Informed                 // REPLY to INFORMATION-REQUEST sent
	Released                 // RELEASE recorded and answered
	Declined                 // DECLINE recorded and answered

	// Drops: no reply.
	DropMalformed   // not a DHCPv6 message
	DropMessageType // a message a server never answers, or a RELAY-REPL
	DropNoClientID  // no client identifier, or a server identifier where none belongs
	DropOtherServer // the message names another server
	DropNoMAC       // no Ethernet address in the DUID, relay option 79 or link-local source
	DropNoSubnet    // no configured subnet for the interface or relay link
	DropUnknownMAC  // the MAC has no IPv6 address in the subnet
	DropBackend     // the store failed or timed out
	DropQueueFull   // the worker queue was full
	reasonCount
)

var reasonNames = [reasonCount]string{"advertised", "replied", "informed", "released", "declined",
	"malformed", "message_type", "no_client_id", "other_server", "no_mac", "no_subnet", "unknown_mac",
	"backend", "queue_full"}

// String is the reason's metric label.
func (r Reason) String() string {
	if r >= 0 && r < reasonCount {
		return reasonNames[r]
	}
	return "unknown"
}
