package server

import (
	"context"
	"fmt"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
)

// Repo stores one kind of inventory object.
type Repo[T any] interface {
	Get(ctx context.Context, id int64) (T, error)
	List(ctx context.Context, q listq.Query) ([]T, int, error)
	Create(ctx context.Context, v *T) error
	Update(ctx context.Context, v *T) error
	Delete(ctx context.Context, id int64) error
}

// Scope limits what a caller sees: a nil OwnerID sees everything.
type Scope struct{ OwnerID *int64 }

// ViewStore reads assembled server objects and changes ownership.
type ViewStore interface {
	ListViews(ctx context.Context, scope Scope, q listq.Query) ([]View, int, error)
	Configurations(ctx context.Context) ([]ConfigurationCount, error)
	SetOwner(ctx context.Context, serverID int64, ownerID *int64) error
}

// ConnectionStore links servers to switch ports and PDU outlets.
type ConnectionStore interface {
	AddSwitchConnection(ctx context.Context, c *SwitchConnection) error
	RemoveSwitchConnection(ctx context.Context, serverID, connID int64) error
	SetPDUConnection(ctx context.Context, c *PDUConnection) error
	RemovePDUConnection(ctx context.Context, serverID int64) error
}

// UserExister tells whether a user exists (for owner assignment).
type UserExister interface {
	UserExists(ctx context.Context, id int64) (bool, error)
}

// Stores is everything the inventory service persists through.
type Stores struct {
	Locations   Repo[Location]
	Racks       Repo[Rack]
	Platforms   Repo[Platform]
	Chassis     Repo[Chassis]
	Switches    Repo[Switch]
	SwitchPorts Repo[SwitchPort]
	PDUs        Repo[PDU]
	PDUPorts    Repo[PDUPort]
	BMCs        Repo[BMC]
	OSTemplates Repo[OSTemplate]
	Servers     Repo[Server]
	Views       ViewStore
	Connections ConnectionStore
	Users       UserExister
}

// Service validates and applies inventory changes.
type Service struct{ Stores }

// NewService builds the inventory service.
func NewService(s Stores) *Service { return &Service{Stores: s} }

// exists turns a missing reference into a 400 naming the field.
func exists[T any](ctx context.Context, r Repo[T], field string, id *int64) error {
	if id == nil {
		return nil
	}
	if _, err := r.Get(ctx, *id); err != nil {
		if fe, ok := fault.As(err); ok && fe.Kind == fault.KindNotFound {
			return fault.Invalid(field, "no object with id %d", *id)
		}
		return err
	}
	return nil
}

// CheckRack verifies rack references of a placed object.
func (s *Service) CheckRack(ctx context.Context, r *Rack) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return exists(ctx, s.Locations, "location_id", &r.LocationID)
}

// CheckPlaced verifies the location and rack of a switch, PDU or chassis and
// that the rack stands in that location.
func (s *Service) CheckPlaced(ctx context.Context, locationID, rackID *int64) error {
	if err := exists(ctx, s.Locations, "location_id", locationID); err != nil {
		return err
	}
	if rackID == nil {
		return nil
	}
	rack, err := s.Racks.Get(ctx, *rackID)
	if err != nil {
		if fe, ok := fault.As(err); ok && fe.Kind == fault.KindNotFound {
			return fault.Invalid("rack_id", "no object with id %d", *rackID)
		}
		return err
	}
	if locationID != nil && rack.LocationID != *locationID {
		return fault.Invalid("rack_id", "rack %d is not in location %d", *rackID, *locationID)
	}
	return nil
}

// CheckServer validates a server and its references before a write.
func (s *Service) CheckServer(ctx context.Context, v *Server) error {
	if err := v.Validate(); err != nil {
		return err
	}
	if err := s.CheckPlaced(ctx, v.LocationID, v.RackID); err != nil {
		return err
	}
	if err := exists(ctx, s.Platforms, "platform_id", v.PlatformID); err != nil {
		return err
	}
	if v.ChassisID != nil {
		ch, err := s.Chassis.Get(ctx, *v.ChassisID)
		if err != nil {
			if fe, ok := fault.As(err); ok && fe.Kind == fault.KindNotFound {
				return fault.Invalid("chassis_id", "no object with id %d", *v.ChassisID)
			}
			return err
		}
		if v.Slot != nil && (*v.Slot < 1 || *v.Slot > ch.ServerSlotCount) {
			return fault.Invalid("slot", "must be between 1 and %d for chassis %q", ch.ServerSlotCount, ch.Name)
		}
	}
	return exists(ctx, s.OSTemplates, "os_template_id", v.OSTemplateID)
}

// CheckBMC validates a BMC and the server it belongs to.
func (s *Service) CheckBMC(ctx context.Context, b *BMC) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return exists(ctx, s.Servers, "server_id", b.ServerID)
}

// GetView returns one server object within the caller's scope; a server
// outside the scope is reported as not found, so its existence does not leak.
func (s *Service) GetView(ctx context.Context, scope Scope, id int64) (View, error) {
	q := listq.Query{Where: &listq.Compare{Field: "id", Op: "EQ", Value: listq.Value{Kind: listq.KindInt, Int: id}}, Limit: 1}
	vs, _, err := s.Views.ListViews(ctx, scope, q)
	if err != nil {
		return View{}, err
	}
	if len(vs) == 0 {
		return View{}, fault.NotFound("server", id)
	}
	return vs[0], nil
}

// SetOwner gives a server to a user.
func (s *Service) SetOwner(ctx context.Context, serverID, userID int64) error {
	if _, err := s.Servers.Get(ctx, serverID); err != nil {
		return err
	}
	ok, err := s.Users.UserExists(ctx, userID)
	if err != nil {
		return fmt.Errorf("check owner: %w", err)
	}
	if !ok {
		return fault.Invalid("owner", "no user with id %d", userID)
	}
	return s.Views.SetOwner(ctx, serverID, &userID)
}

// Release takes a server back from its owner.
func (s *Service) Release(ctx context.Context, serverID int64) error {
	if _, err := s.Servers.Get(ctx, serverID); err != nil {
		return err
	}
	return s.Views.SetOwner(ctx, serverID, nil)
}

// ConnectSwitchPort links a server to a switch port.
func (s *Service) ConnectSwitchPort(ctx context.Context, c *SwitchConnection) error {
	if _, err := s.Servers.Get(ctx, c.ServerID); err != nil {
		return err
	}
	if err := exists(ctx, s.SwitchPorts, "switch_port_id", &c.SwitchPortID); err != nil {
		return err
	}
	return s.Connections.AddSwitchConnection(ctx, c)
}

// ConnectPDUPort links a server to a PDU outlet, replacing any earlier one.
func (s *Service) ConnectPDUPort(ctx context.Context, c *PDUConnection) error {
	if _, err := s.Servers.Get(ctx, c.ServerID); err != nil {
		return err
	}
	if err := exists(ctx, s.PDUPorts, "pdu_port_id", &c.PDUPortID); err != nil {
		return err
	}
	return s.Connections.SetPDUConnection(ctx, c)
}
