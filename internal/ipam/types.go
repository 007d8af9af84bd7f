package ipam

// Network types.
const (
	TypeActive    = "active"    // addresses are allocated from it
	TypeContainer = "container" // a parent of other networks only
)

// Address statuses.
const (
	StatusAllocating     = "allocating"
	StatusInProgress     = "in_progress"
	StatusDeleting       = "deleting"
	StatusOK             = "ok"
	StatusFail           = "fail"
	StatusAllocationFail = "allocation_fail"
)

// Net is a network. Size, Using and Total are exact decimal counts: all
// addresses of the prefix, the addresses stored in it (allocated or
// reserved), and the addresses it may hand out at all.
type Net struct {
	ID        int64
	Name      string // CIDR
	Family    int
	PrefixLen int
	Gateway   string
	VLAN      string
	Note      string
	Userspace int64
	Type      string
	Parent    *int64 // the smallest network containing this one
	Size      string
	Using     string
	Total     string
}

// Pool is a named group of ranges taken from active networks.
type Pool struct {
	ID        int64
	Name      string
	Note      string
	IsPublic  bool
	Userspace int64
	Ranges    []PoolRange
	Places    []PoolPlace // the locations and racks allocating from it
	// Counts per family and together, exact decimals.
	Using, Using4, Using6 string
	Total, Total4, Total6 string
}

// PoolPlace attaches a pool to a location or a rack (exactly one is set).
type PoolPlace struct {
	ID         int64
	LocationID *int64
	RackID     *int64
}

// PoolRange is one range of a pool inside one network.
type PoolRange struct {
	ID     int64
	PoolID int64
	NetID  int64
	Family int
	Name   string // first-last
}

// Alloc asks for one address. Exactly one of Name (an exact address), NetID
// and PoolID is set.
type Alloc struct {
	Userspace int64
	Family    int // 4 or 6; 0 = any (exact address or network)
	Name      string
	NetID     int64
	PoolID    int64
	ServerID  *int64
	Domain    string
	Status    string
	Note      string
	Reserved  bool // an admin's reservation: never handed out
	Permanent bool // stays with its server when the server is released
	SetMain   bool // make it the server's main address of its family
}

// IP is a stored address.
type IP struct {
	ID        int64
	Name      string
	Family    int
	NetID     int64
	Userspace int64
	ServerID  *int64
	Domain    string
	Status    string
	Note      string
	Reserved  bool
	Permanent bool
}

// IPPatch changes an address's editable fields; nil leaves one alone.
type IPPatch struct {
	Domain    *string
	Note      *string
	Permanent *bool
}
