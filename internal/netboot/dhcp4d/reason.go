package dhcp4d

// Reason says what the handler did with a packet: the reply it sent, the
// message it recorded without a reply, or why it dropped the packet.
type Reason int

// Outcomes. Every packet gets exactly one.
const (
	Offered  Reason = iota // OFFER sent
	Acked                  // ACK to a REQUEST sent
	Naked                  // NAK sent: the client asked for an address that is not its own
	Informed               // ACK to an INFORM sent
	Declined               // DECLINE recorded (no reply)
	Released               // RELEASE recorded (no reply)

	// Drops: no reply.
	DropMalformed     // not a DHCPv4 packet, or too short, too long
	DropNotRequest    // a BOOTREPLY or other op code
	DropHWAddr        // not Ethernet, or a missing or broadcast MAC
	DropMessageType   // no message type, or one a server never answers (OFFER, ACK, ...)
	DropRateLimited   // the MAC sent too much
	DropNoSubnet      // no configured subnet for the interface or relay
	DropUnknownMAC    // authoritative: the MAC has no address here and may not be discovered
	DropOtherServer   // the client chose or addressed another server
	DropAddrDeclined  // the address is held after a DECLINE
	DropNotPXE        // proxy mode: not network-boot firmware dcimd can boot
	DropNotForUs      // a message this mode does not answer (proxy REQUEST elsewhere, stray RELEASE)
	DropBadRequest    // a REQUEST or DECLINE that names no address
	DropBackend       // the store failed or timed out
	DropDiscovery     // discovery refused: range exhausted, MAC of an adopted server
	DropQueueFull     // the workers were all busy and the queue full
	DropReplyTooLarge // the reply would not fit the client's maximum message size
	reasonCount
)

var reasonNames = [reasonCount]string{
	"offer", "ack", "nak", "inform", "decline", "release",
	"malformed", "not_request", "bad_hwaddr", "bad_message_type", "rate_limited", "no_subnet", "unknown_mac",
	"other_server", "address_declined", "not_pxe", "not_for_us", "bad_request", "backend_error", "discovery_refused",
	"queue_full", "reply_too_large",
}

// String is the reason's stable name (log values and metric labels).
func (r Reason) String() string {
	if r < 0 || r >= reasonCount {
		return "unknown"
	}
	return reasonNames[r]
}

// Dropped reports a packet that got no reply and changed nothing.
func (r Reason) Dropped() bool { return r >= DropMalformed }

// Replied reports a packet that got a reply.
func (r Reason) Replied() bool { return r <= Informed }
